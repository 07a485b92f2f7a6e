using System.Security.Claims;
using System.Text.Json;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.LegacySignIn;

/// <summary>Who a user is at the CMS: the CMS user id of a gateway identity (a claim or a lookup) and, for adoption, the user name of a CMS user id.</summary>
internal sealed class CmsUserDirectory(IOptions<LegacySignInOptions> options, IHttpClientFactory http)
{
    public const string HttpClientName = "legacy-signin";
    private const int MaxAnswerBytes = 64 * 1024;
    private readonly LegacySignInOptions _options = options.Value;

    /// <summary>The CMS user id as a JSON value (a number stays a number, a string a string).</summary>
    /// <exception cref="CmsLookupException">The claim is missing, or the lookup failed or named no usable id.</exception>
    public async Task<string> UserIdOfAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (_options.UserId.Claim is { Length: > 0 } claim)
        {
            var value = user.FindFirst(claim)?.Value;
            if (string.IsNullOrEmpty(value)) throw new CmsLookupException($"the signed-in identity has no '{claim}' claim (Gateway:LegacySignIn:UserId:Claim)");
            return CmsUserId.FromString(value);
        }
        var url = Expand(_options.UserId.LookupUrl!, new()
        {
            ["{username}"] = user.FindFirst("preferred_username")?.Value ?? user.FindFirst(GatewayClaims.Name)?.Value ?? user.FindFirst(GatewayClaims.UserId)?.Value,
            ["{email}"] = user.FindFirst(GatewayClaims.Email)?.Value,
            ["{sub}"] = user.FindFirst(GatewayClaims.UserId)?.Value,
        });
        using var answer = await GetJsonAsync(url, cancellationToken);
        var element = JsonPointer.Resolve(answer.RootElement, _options.UserId.JsonPointer!);
        if (element is not { ValueKind: JsonValueKind.Number or JsonValueKind.String } id || (id.ValueKind == JsonValueKind.String && id.GetString() is not { Length: > 0 }))
            throw new CmsLookupException($"the user lookup's answer has no number or string at {_options.UserId.JsonPointer}");
        return id.GetRawText();
    }

    /// <summary>The user name of a CMS user id (raw JSON), for adoption.</summary>
    public async Task<string> UserNameOfAsync(string userIdJson, CancellationToken cancellationToken)
    {
        using var id = JsonDocument.Parse(userIdJson);
        var text = id.RootElement.ValueKind == JsonValueKind.String ? id.RootElement.GetString() : id.RootElement.GetRawText();
        using var answer = await GetJsonAsync(Expand(_options.Adopt.LookupUrl!, new() { ["{userId}"] = text }), cancellationToken);
        if (JsonPointer.Resolve(answer.RootElement, _options.Adopt.UsernamePointer!) is { ValueKind: JsonValueKind.String } name && name.GetString() is { Length: > 0 and <= Login.LoginOptions.MaxUserNameLength } value)
            return value;
        throw new CmsLookupException($"the adoption lookup's answer has no user name at {_options.Adopt.UsernamePointer}");
    }

    private static string Expand(string template, Dictionary<string, string?> values)
    {
        foreach (var (placeholder, value) in values)
        {
            if (!template.Contains(placeholder, StringComparison.Ordinal)) continue;
            if (string.IsNullOrEmpty(value)) throw new CmsLookupException($"the lookup needs {placeholder}, which the identity does not have");
            template = template.Replace(placeholder, Uri.EscapeDataString(value), StringComparison.Ordinal);
        }
        return template;
    }

    private async Task<JsonDocument> GetJsonAsync(string url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.LookupTimeout);
        try
        {
            using var response = await http.CreateClient(HttpClientName).GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode) throw new CmsLookupException($"the lookup answered {(int)response.StatusCode}");
            if (response.Content.Headers.ContentLength > MaxAnswerBytes) throw new CmsLookupException("the lookup's answer is too large");
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            var buffer = new MemoryStream();
            await body.CopyToAsync(new LimitedWriteStream(buffer, MaxAnswerBytes), timeout.Token);
            buffer.Position = 0;
            return await JsonDocument.ParseAsync(buffer, cancellationToken: timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CmsLookupException($"the lookup did not answer within {_options.LookupTimeout.TotalSeconds:0.###} s");
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or IOException)
        {
            throw new CmsLookupException($"the lookup failed: {ex.GetType().Name}");
        }
    }

    /// <summary>Refuses to take more than a bound: a lookup answer is a small JSON document.</summary>
    private sealed class LimitedWriteStream(Stream inner, long limit) : Stream
    {
        private long _written;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _written;
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count)
        {
            _written += count;
            if (_written > limit) throw new IOException("lookup answer over its limit");
            inner.Write(buffer, offset, count);
        }
    }
}

/// <summary>The CMS user could not be learnt: sign-in is refused with a clear page, adoption adopts nothing.</summary>
internal sealed class CmsLookupException(string message) : Exception(message);
