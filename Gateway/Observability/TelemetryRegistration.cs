using Gateway.Configuration;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Gateway.Observability;

/// <summary>
/// OpenTelemetry through its hosting package when <c>Gateway:OtlpEndpoint</c> is set: the gateway's own
/// meter always; with <c>Gateway:OtlpHttpMetrics=true</c> also ASP.NET Core's, Kestrel's and the proxy's
/// HttpClient meters; with <c>Gateway:OtlpTraces=true</c> traces of each request and its upstream call, the
/// W3C <c>traceparent</c> carried upstream. Both are opt-in: measured side by side (bench/), the HTTP meters
/// cost about half again the CPU of a signed-in request and traces more, far over the 2 % hot-path budget.
/// An endpoint ending in <c>/v1/metrics</c> is OTLP/HTTP (traces go to <c>/v1/traces</c> beside it); any
/// other endpoint is a gRPC collector. The export interval follows OTEL_METRIC_EXPORT_INTERVAL (default 60 s).
/// </summary>
internal static class TelemetryRegistration
{
    private const string HttpMetricsPath = "/v1/metrics";

    public static void AddGatewayTelemetry(this IServiceCollection services, GatewayOptions settings)
    {
        if (string.IsNullOrWhiteSpace(settings.OtlpEndpoint)) return;
        var endpoint = new Uri(settings.OtlpEndpoint);
        var http = endpoint.AbsolutePath.EndsWith(HttpMetricsPath, StringComparison.Ordinal);
        var protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        var tracesEndpoint = http ? new Uri(endpoint, endpoint.AbsolutePath[..^HttpMetricsPath.Length] + "/v1/traces") : endpoint;

        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("gateway"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(GatewayMetrics.MeterName).AddOtlpExporter(o => { o.Endpoint = endpoint; o.Protocol = protocol; });
                if (settings.OtlpHttpMetrics)
                    metrics.AddMeter("Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Authentication").AddAspNetCoreInstrumentation().AddHttpClientInstrumentation();
            });
        if (!settings.OtlpTraces) return;
        telemetry.WithTracing(tracing => tracing
            // Not the warm-up's requests: thousands of spans at every start that are no user's.
            .AddAspNetCoreInstrumentation(o =>
            {
                o.RecordException = false;
                o.Filter = context => !WarmUp.WarmUpState.IsWarmUpPath(context.Request.Path);
            })
            .AddHttpClientInstrumentation(o => o.FilterHttpRequestMessage = request =>
                request.RequestUri is not { } uri || !uri.AbsolutePath.StartsWith(WarmUp.WarmUpState.PathPrefix, StringComparison.Ordinal))
            .AddOtlpExporter(o => { o.Endpoint = tracesEndpoint; o.Protocol = protocol; }));
    }
}
