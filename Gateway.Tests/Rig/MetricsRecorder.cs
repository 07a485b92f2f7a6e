using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Gateway.Tests.Rig;

/// <summary>Collects one gateway's measurements (by its meter factory, so parallel gateways do not mix).</summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, string Tags)> _measurements = new();

    public MetricsRecorder(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Meter.Name == "Gateway") listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            _measurements.Enqueue((instrument.Name, value, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}")))));
        _listener.Start();
    }

    public long Sum(string instrument, string? tag = null) =>
        _measurements.Where(m => m.Instrument == instrument && (tag is null || m.Tags.Contains(tag, StringComparison.Ordinal))).Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();
}
