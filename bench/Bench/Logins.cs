using System.Net;
using System.Text.RegularExpressions;

namespace Bench;

/// <summary>Signing in the way a browser would, to get the cookie each signed-in target is measured with.</summary>
internal static partial class Logins
{
    public const string User = "bench";
    public const string Password = "bench-password";

    /// <summary>The gateway's own login form (dev users): the <c>gw_session=...</c> cookie it sets.</summary>
    public static async Task<string> GatewayAsync(string gateway)
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(gateway) };
        await PostGatewayLoginAsync(http);
        return "gw_session=" + handler.CookieContainer.GetCookies(new Uri(gateway))["gw_session"]!.Value;
    }

    public static Task PostGatewayLoginAsync(HttpClient http) => TimedGatewayLoginAsync(http);

    /// <summary>Loads the login form, then posts it: how long the POST alone took, in milliseconds.</summary>
    public static async Task<double> TimedGatewayLoginAsync(HttpClient http)
    {
        var token = AntiforgeryToken(await http.GetStringAsync("/login"));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var response = await http.PostAsync("/login", Form(token));
        var elapsed = watch.Elapsed.TotalMilliseconds;
        if (response.StatusCode != HttpStatusCode.SeeOther) throw new InvalidOperationException($"gateway login failed: {response.StatusCode}");
        return elapsed;
    }

    /// <summary>Logs out the way the CMS's own link does (a same-origin GET): how long it took, in milliseconds.</summary>
    public static async Task<double> TimedGatewayLogoutAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/logout");
        request.Headers.Add("Sec-Fetch-Site", "same-origin");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var response = await http.SendAsync(request);
        var elapsed = watch.Elapsed.TotalMilliseconds;
        if (response.StatusCode != HttpStatusCode.Found) throw new InvalidOperationException($"gateway logout failed: {response.StatusCode}");
        return elapsed;
    }

    /// <summary>The form token in a page of the gateway's login form.</summary>
    public static string AntiforgeryToken(string html) => WebUtility.HtmlDecode(AntiforgeryField().Match(html).Groups[1].Value);

    /// <summary>The login form as the bench user fills it in.</summary>
    public static FormUrlEncodedContent Form(string token) =>
        new(new Dictionary<string, string> { ["__gw_af"] = token, ["username"] = User, ["password"] = Password });

    /// <summary>
    /// An OpenID Connect code flow from a protected URL: follow redirects, fill the provider's login and consent
    /// forms, come back with the relying party's cookies. Returns the Cookie header for <paramref name="protectedUrl"/>.
    /// </summary>
    public static async Task<string> OidcAsync(string protectedUrl, string user)
    {
        var cookies = new CookieContainer();
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false });
        // mod_auth_openidc answers 401 rather than redirecting a client that does not look like a browser navigation.
        http.DefaultRequestHeaders.Add("Accept", "text/html");
        http.DefaultRequestHeaders.Add("Sec-Fetch-Mode", "navigate");
        var site = new Uri(protectedUrl).GetLeftPart(UriPartial.Authority);
        // Cookies do not tell ports apart: keep only those the protected site itself set, not the provider's.
        var ours = new HashSet<string>(StringComparer.Ordinal);
        var current = new Uri(protectedUrl);
        var response = await http.GetAsync(current);
        for (var step = 0; step < 20; step++)
        {
            if (current.GetLeftPart(UriPartial.Authority) == site && response.Headers.TryGetValues("Set-Cookie", out var set))
                foreach (var cookie in set) ours.Add(cookie.Split('=')[0].Trim());
            if (response.StatusCode == HttpStatusCode.OK && current.GetLeftPart(UriPartial.Authority) == site)
                return string.Join("; ", cookies.GetCookies(new Uri(protectedUrl)).Where(c => ours.Contains(c.Name)).Select(c => $"{c.Name}={c.Value}"));
            if (response.Headers.Location is { } location)
            {
                current = location.IsAbsoluteUri ? location : new Uri(current, location);
                response = await http.GetAsync(current);
                continue;
            }
            var html = await response.Content.ReadAsStringAsync();
            var form = Form().Match(html);
            if (!form.Success) throw new InvalidOperationException($"OIDC login stopped at {current} ({(int)response.StatusCode}): {html[..Math.Min(300, html.Length)]}");
            var fields = new Dictionary<string, string>();
            foreach (Match input in Input().Matches(form.Groups[2].Value))
            {
                var name = Regex.Match(input.Value, "\\sname=\"([^\"]*)\"");
                var value = Regex.Match(input.Value, "\\svalue=\"([^\"]*)\"");
                if (name.Success) fields[name.Groups[1].Value] = value.Success ? WebUtility.HtmlDecode(value.Groups[1].Value) : "";
            }
            if (fields.ContainsKey("login")) fields["login"] = user;
            if (fields.ContainsKey("password")) fields["password"] = "any";
            current = new Uri(current, WebUtility.HtmlDecode(form.Groups[1].Value));
            response = await http.PostAsync(current, new FormUrlEncodedContent(fields));
        }
        throw new InvalidOperationException("The OIDC flow did not finish in 20 steps.");
    }

    [GeneratedRegex("name=\"__gw_af\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    [GeneratedRegex("<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", RegexOptions.Singleline)]
    private static partial Regex Form();

    [GeneratedRegex("<input[^>]*>")]
    private static partial Regex Input();
}
