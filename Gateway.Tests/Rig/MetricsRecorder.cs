using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Gateway.Tests.Rig;

/// <summary>
/// One gateway's measurements of the instruments a test names, through the framework's <see cref="MetricCollector{T}"/>
/// scoped to that gateway's meter factory (parallel gateways do not mix). Collect before acting: a collector sees only
/// what is measured after it is created.
/// </summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly Dictionary<string, MetricCollector<long>> _collectors;

    public MetricsRecorder(IServiceProvider services, params string[] instruments)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _collectors = instruments.ToDictionary(name => name, name => new MetricCollector<long>(factory, "Gateway", name));
    }

    /// <summary>
    /// The instrument's total for measurements carrying <paramref name="tag"/> (<c>key=value</c>): a counter's sum, an
    /// observable counter's latest reading (it reports running totals) summed over its tag sets.
    /// </summary>
    public long Sum(string instrument, string? tag = null)
    {
        var collector = _collectors[instrument];
        collector.RecordObservableInstruments();
        var (key, value) = tag is null ? (null, null) : (tag[..tag.IndexOf('=')], tag[(tag.IndexOf('=') + 1)..]);
        var matching = collector.GetMeasurementSnapshot().Where(m => key is null || (m.Tags.TryGetValue(key, out var v) && v?.ToString() == value));
        if (collector.Instrument is not ObservableCounter<long>) return matching.Sum(m => m.Value);
        return matching.GroupBy(m => string.Join(",", m.Tags.OrderBy(t => t.Key).Select(t => $"{t.Key}={t.Value}"))).Sum(g => g.Last().Value);
    }

    public void Dispose()
    {
        foreach (var collector in _collectors.Values) collector.Dispose();
    }
}
