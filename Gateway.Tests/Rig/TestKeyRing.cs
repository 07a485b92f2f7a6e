using System.Xml.Linq;
using Gateway.Configuration;
using Gateway.KeyRing;
using Gateway.Observability;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Gateway.Tests.Rig;

/// <summary>DataProtection as the gateway registers it (its key-ring provider and guard), over an in-memory store.</summary>
internal static class TestKeyRing
{
    public static ServiceProvider Build(IXmlRepository? store = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<GatewayMetrics>();
        services.AddDataProtection().SetApplicationName("Gateway");
        var repository = store ?? new InMemoryKeyStore();
        services.Configure<KeyManagementOptions>(o => o.XmlRepository = repository);
        services.AddGatewayKeyRing(new KeyRingOptions());
        return services.BuildServiceProvider();
    }
}

/// <summary>The key ring's store, in memory: counts reads, and fails or hangs when told to.</summary>
internal sealed class InMemoryKeyStore : IXmlRepository
{
    private readonly List<XElement> _elements = [];
    private int _reads;
    private int _failures;

    public volatile bool Fail;
    public TimeSpan Delay;
    /// <summary>When set, every read waits on it (after counting itself): a store that hangs until the test lets it go.</summary>
    public ManualResetEventSlim? Gate;

    public int Reads => Volatile.Read(ref _reads);
    public int Failures => Volatile.Read(ref _failures);

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        Interlocked.Increment(ref _reads);
        Gate?.Wait(TimeSpan.FromSeconds(30));
        if (Delay > TimeSpan.Zero) Thread.Sleep(Delay);
        if (Fail)
        {
            Interlocked.Increment(ref _failures);
            throw new IOException("the store is down");
        }
        lock (_elements) return _elements.Select(e => new XElement(e)).ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        lock (_elements) _elements.Add(new XElement(element));
    }
}
