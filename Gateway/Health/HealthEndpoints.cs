using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Health;

/// <summary>
/// <c>/healthz</c>: the process runs. <c>/readyz</c>: this replica can serve, which depends only on what is local
/// to it: the route file loaded, the key ring usable and the warm-up (<see cref="WarmUp.WarmUpService"/>) over
/// (<see cref="ReadinessChecks"/>). Never the shared Redis: one Redis outage must not take every replica out of the
/// Service and the public routes with them; Redis state is reported in the body (and in the
/// <c>gateway.redis.connected</c> metric). Anonymous callers see states only; error text and file paths need the
/// admin key.
/// </summary>
internal static class HealthEndpoints
{
    public static void MapGatewayHealth(this IEndpointRouteBuilder endpoints, string healthPath, string readyPath)
    {
        endpoints.MapHealthChecks(healthPath, new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = (context, _) => context.Response.WriteAsync("ok"),
        }).WithMetadata(GetOnly).AllowAnonymous().DisableHttpMetrics();
        endpoints.MapHealthChecks(readyPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadinessChecks.Tag),
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
            ResponseWriter = ReadinessResponse.WriteAsync,
        }).WithMetadata(GetOnly).AllowAnonymous().DisableHttpMetrics();
    }

    // MapHealthChecks answers every method; a probe is a GET, and anything else on a gateway path gets 405.
    private static readonly HttpMethodMetadata GetOnly = new([HttpMethods.Get]);
}

/// <summary>The body of <c>/readyz</c>: each check's data, its admin-only part only for the admin key.</summary>
internal static class ReadinessResponse
{
    public static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        var details = context.RequestServices.GetRequiredService<Admin.AdminKey>().Check(context.Request) == true;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("status", report.Status == HealthStatus.Unhealthy ? "not-ready" : "ready");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject(name);
            foreach (var (key, value) in entry.Data)
            {
                var adminOnly = key.StartsWith(ReadinessChecks.AdminOnly, StringComparison.Ordinal);
                if (adminOnly && !details) continue;
                Write(json, adminOnly ? key[ReadinessChecks.AdminOnly.Length..] : key, value);
            }
            // A check that threw has no data (none of ours throws): its name and status say it failed.
            if (entry.Data.Count == 0) json.WriteString("status", entry.Status.ToString());
            json.WriteEndObject();
        }
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    private static void Write(Utf8JsonWriter json, string name, object value)
    {
        switch (value)
        {
            case bool flag: json.WriteBoolean(name, flag); break;
            case int number: json.WriteNumber(name, number); break;
            case DateTimeOffset at: json.WriteString(name, at); break;
            case IEnumerable<string> texts:
                json.WriteStartArray(name);
                foreach (var text in texts) json.WriteStringValue(text);
                json.WriteEndArray();
                break;
            default: json.WriteString(name, value.ToString()); break;
        }
    }
}
