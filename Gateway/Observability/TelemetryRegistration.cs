using Gateway.Configuration;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace Gateway.Observability;

/// <summary>OTLP export of the gateway's, ASP.NET Core's and Kestrel's meters when Gateway:OtlpEndpoint is set.</summary>
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
                    o.Protocol = endpoint.Port == 4318 ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                })
                .Build();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose() => _provider?.Dispose();
    }
}
