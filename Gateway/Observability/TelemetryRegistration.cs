using Gateway.Configuration;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace Gateway.Observability;

/// <summary>
/// OTLP export of the gateway's, ASP.NET Core's and Kestrel's meters when Gateway:OtlpEndpoint is set:
/// <c>http://collector:4318/v1/metrics</c> for OTLP/HTTP, <c>http://collector:4317</c> for gRPC. The export
/// interval follows OTEL_METRIC_EXPORT_INTERVAL (default 60 s).
/// </summary>
internal static class TelemetryRegistration
{
    public static void AddGatewayTelemetry(this IServiceCollection services, GatewayOptions settings)
    {
        if (string.IsNullOrWhiteSpace(settings.OtlpEndpoint)) return;
        var endpoint = new Uri(settings.OtlpEndpoint);
        services.AddHostedService(_ => new MeterProviderHost(endpoint));
    }

    private sealed class MeterProviderHost(Uri endpoint) : IHostedService, IDisposable
    {
        private MeterProvider? _provider;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _provider = Sdk.CreateMeterProviderBuilder()
                .AddMeter(GatewayMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Authentication")
                .AddOtlpExporter(o =>
                {
                    o.Endpoint = endpoint;
                    // OTLP/HTTP endpoints name the signal path (.../v1/metrics); anything else is a gRPC collector.
                    o.Protocol = endpoint.AbsolutePath.EndsWith("/v1/metrics", StringComparison.Ordinal) ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                })
                .Build();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose() => _provider?.Dispose();
    }
}
