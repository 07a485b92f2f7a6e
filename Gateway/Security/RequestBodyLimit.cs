namespace Gateway.Security;

/// <summary>
/// Endpoint metadata: the most a gateway endpoint reads of a request body, in bytes. Proxied routes carry none
/// and stream whatever the CMS accepts; the gateway's own forms are a few fields, a logout token a few KB.
/// <see cref="RequestBodyGuard"/> enforces it before anything reads the body.
/// </summary>
internal sealed record RequestBodyLimit(int Bytes)
{
    /// <summary>Login, logout, your-sessions and admin forms: a returnUrl, a token, a few short fields.</summary>
    public static readonly RequestBodyLimit Form = new(8 * 1024);

    /// <summary>A back-channel logout token is a signed JWT: a few KB, with room for large provider keys and claims.</summary>
    public static readonly RequestBodyLimit BackchannelLogout = new(32 * 1024);
}

internal static class RequestBodyLimitExtensions
{
    public static TBuilder WithBodyLimit<TBuilder>(this TBuilder builder, RequestBodyLimit limit) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(limit);
}
