using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Gateway.Tests.Rig;

/// <summary>Collects one gateway's measurements (by its meter factory, so parallel gateways do not mix).</summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, string Tags)> _measurements = new();
    // Observable instruments report running totals when asked: keep the latest per instrument and tags.
    private readonly ConcurrentDictionary<(string Instrument, string Tags), long> _observed = new();

    public MetricsRecorder(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Meter.Name == "Gateway") listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var text = string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"));
            if (instrument.IsObservable) _observed[(instrument.Name, text)] = value;
            else _measurements.Enqueue((instrument.Name, value, text));
        });
        _listener.Start();
    }

    public long Sum(string instrument, string? tag = null)
    {
        _listener.RecordObservableInstruments();
        bool Matches(string name, string tags) => name == instrument && (tag is null || tags.Contains(tag, StringComparison.Ordinal));
        return _measurements.Where(m => Matches(m.Instrument, m.Tags)).Sum(m => m.Value)
            + _observed.Where(o => Matches(o.Key.Instrument, o.Key.Tags)).Sum(o => o.Value);
    }

    public void Dispose() => _listener.Dispose();
}
