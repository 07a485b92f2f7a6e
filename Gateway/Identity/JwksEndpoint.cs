using System.Text.Json;

namespace Gateway.Identity;

/// <summary><c>GET /.well-known/jwks.json</c>: every published assertion key, for downstream verifiers.</summary>
internal static class JwksEndpoint
{
    public static void MapJwks(this IEndpointRouteBuilder endpoints, string path) =>
        endpoints.MapGet(path, WriteAsync).AllowAnonymous();

    private static async Task WriteAsync(HttpContext context, SigningKeyRing ring)
    {
        var keys = await ring.PublishedAsync(context.RequestAborted);
        context.Response.ContentType = "application/json";
        // Never longer than the overlap, so verifiers fetch a new key before it signs; an empty set is never cached.
        context.Response.Headers.CacheControl = keys.Count == 0 ? "no-store"
            : $"public, max-age={(int)ring.JwksCacheTime.TotalSeconds}";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteStartArray("keys");
        foreach (var key in keys)
        {
            json.WriteStartObject();
            json.WriteString("kty", "EC");
            json.WriteString("crv", "P-256");
            json.WriteString("use", "sig");
            json.WriteString("alg", "ES256");
            json.WriteString("kid", key.Kid);
            json.WriteString("x", key.X);
            json.WriteString("y", key.Y);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }
}
