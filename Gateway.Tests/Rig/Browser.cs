using System.Net;
using System.Text.RegularExpressions;

namespace Gateway.Tests.Rig;

/// <summary>An HTTP client that behaves like a browser tab: cookies, no automatic redirects, navigation headers.</summary>
internal sealed partial class Browser : IDisposable
{
    public Browser(string baseUrl, bool useCookies = true)
    {
        BaseUrl = baseUrl;
        Handler = new SocketsHttpHandler { CookieContainer = Cookies, UseCookies = useCookies, AllowAutoRedirect = false };
        Http = new HttpClient(Handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A browser that signed in through the login form as <paramref name="user"/>.</summary>
    public static async Task<Browser> SignedInAsync(string baseUrl, string user, string password)
    {
        var browser = new Browser(baseUrl);
        try
        {
            // A sign-in that did not happen fails here, by name, not later as a puzzling 401 on a "signed-in" browser.
            using var response = await browser.LoginAsync(user, password);
            if (response.StatusCode != HttpStatusCode.SeeOther)
                throw new InvalidOperationException($"Signing in as {user} answered {(int)response.StatusCode}, not 303: {await response.Content.ReadAsStringAsync()}");
            return browser;
        }
        catch
        {
            browser.Dispose();
            throw;
        }
    }

    public string BaseUrl { get; }
    public CookieContainer Cookies { get; } = new();
    public SocketsHttpHandler Handler { get; }
    public HttpClient Http { get; }

    public string? Cookie(string name) => Cookies.GetCookies(new Uri(BaseUrl)).FirstOrDefault(c => c.Name == name)?.Value;

    public void SetCookie(string name, string value) => Cookies.Add(new Uri(BaseUrl), new Cookie(name, value, "/"));

    public void RemoveCookie(string name)
    {
        foreach (Cookie c in Cookies.GetCookies(new Uri(BaseUrl)))
            if (c.Name == name) c.Expired = true;
    }

    /// <summary>A top-level navigation, as a browser sends it.</summary>
    public Task<HttpResponseMessage> NavigateAsync(string path, string site = "none")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/html,application/xhtml+xml");
        request.Headers.Add("Sec-Fetch-Mode", "navigate");
        request.Headers.Add("Sec-Fetch-Site", site);
        return Http.SendAsync(request);
    }

    /// <summary>A form POST from one of our own pages: the browser sends our Origin.</summary>
    public Task<HttpResponseMessage> PostSameOriginAsync(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent([]) };
        request.Headers.Add("Origin", BaseUrl);
        return Http.SendAsync(request);
    }

    public Task<HttpResponseMessage> ApiGetAsync(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("application/json");
        return Http.SendAsync(request);
    }

    /// <summary>Signs in through the dev-user form; returns the response to the form post.</summary>
    public async Task<HttpResponseMessage> LoginAsync(string user, string password, string? returnUrl = null, string loginPath = "/login")
    {
        var form = await (await NavigateAsync(loginPath + (returnUrl is null ? "" : "?returnUrl=" + Uri.EscapeDataString(returnUrl)))).Content.ReadAsStringAsync();
        var fields = HiddenFields(form);
        fields["username"] = user;
        fields["password"] = password;
        if (returnUrl is not null) fields["returnUrl"] = returnUrl;
        return await Http.PostAsync(loginPath, new FormUrlEncodedContent(fields));
    }

    public static Dictionary<string, string> HiddenFields(string html) =>
        HiddenFieldPattern().Matches(html).ToDictionary(m => WebUtility.HtmlDecode(m.Groups[1].Value), m => WebUtility.HtmlDecode(m.Groups[2].Value));

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\">")]
    private static partial Regex HiddenFieldPattern();

    public void Dispose() => Http.Dispose();
}
