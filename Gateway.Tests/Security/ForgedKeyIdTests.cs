using System.Diagnostics;
using System.Security.Cryptography;
using Gateway.KeyRing;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;

namespace Gateway.Tests.Security;

/// <summary>
/// Audit finding 2, at the DataProtection layer: a payload under a key id the ring does not hold is an invalid payload.
/// It never makes the caller wait on the store, it asks for at most one background refresh per second, and nothing it
/// does can make a loaded ring unusable. The store here is an in-memory repository that can fail or hang on demand;
/// <see cref="ForgedCookieFloodTests"/> replays the attack on a gateway process over a real Redis.
/// </summary>
public sealed class ForgedKeyIdTests
{
    [Fact]
    public void Payloads_under_unknown_key_ids_fail_at_once_and_read_the_ring_at_most_once_a_second()
    {
        var store = new InMemoryKeyStore();
        using var services = Build(store);
        var protector = Protector(services);
        var valid = protector.Protect([1, 2, 3]);
        var readsBefore = store.Reads;

        var watch = Stopwatch.StartNew();
        var forged = 0;
        while (watch.Elapsed < TimeSpan.FromSeconds(2.5))
        {
            Assert.Throws<CryptographicException>(() => protector.Unprotect(ForgedPayload()));
            forged++;
        }
        // The refreshes run on the thread pool, which a machine busy with other tests may start seconds late (CI once
        // saw none within 300 ms of the flood's end): wait for the first, however late; the bound below is on how many.
        var waited = Stopwatch.StartNew();
        while (store.Reads == readsBefore && waited.Elapsed < TimeSpan.FromSeconds(15)) Thread.Sleep(50);
        Thread.Sleep(300);
        var reads = store.Reads - readsBefore;

        // One refresh asked at 0 s, 1 s and 2 s at most (each one read), however many forged payloads came.
        Assert.True(forged > 1000, $"only {forged} forged payloads were tried");
        Assert.InRange(reads, 1, 3);
        Assert.Equal([1, 2, 3], protector.Unprotect(valid));
    }

    [Fact]
    public void A_refresh_against_a_hanging_store_keeps_no_caller_waiting()
    {
        var store = new InMemoryKeyStore();
        using var services = Build(store);
        var protector = Protector(services);
        var valid = protector.Protect([7]);
        store.Delay = TimeSpan.FromSeconds(3);

        Assert.Throws<CryptographicException>(() => protector.Unprotect(ForgedPayload()));
        // The refresh is now hanging on a pool thread; every caller, valid or forged, goes on with the ring it has.
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 200; i++)
        {
            var watch = Stopwatch.StartNew();
            Assert.Equal([7], protector.Unprotect(valid));
            Assert.Throws<CryptographicException>(() => protector.Unprotect(ForgedPayload()));
            Assert.NotEmpty(protector.Protect([8]));
            if (watch.Elapsed > slowest) slowest = watch.Elapsed;
        }
        Assert.True(slowest < TimeSpan.FromSeconds(1), $"a caller waited {slowest.TotalMilliseconds:0} ms on the hanging store");
        Assert.True(store.Reads >= 2, "the forged payload asked for no refresh");
    }

    [Fact]
    public async Task A_key_another_replica_added_decrypts_here_after_one_refusal_and_one_background_refresh()
    {
        var store = new InMemoryKeyStore();
        using var replicaA = Build(store);
        using var replicaB = Build(store);
        var onA = Protector(replicaA);
        Assert.NotEmpty(onA.Protect([0]));
        var onB = Protector(replicaB);
        Assert.NotEmpty(onB.Protect([0]));
        // B rotates to a key of its own that A has never read.
        var newKey = replicaB.GetRequiredService<IKeyManager>().CreateNewKey(DateTimeOffset.UtcNow.AddSeconds(1), DateTimeOffset.UtcNow.AddDays(90));
        // B itself picks its new key up in the background too.
        var payload = await Poll.Until(async () =>
        {
            await Task.Yield();
            var protectedOnB = onB.Protect([42]);
            return new Guid(protectedOnB.AsSpan(4, 16)) == newKey.KeyId ? protectedOnB : null;
        }, timeoutMs: 15_000);
        Assert.NotNull(payload);

        Assert.Throws<CryptographicException>(() => onA.Unprotect(payload));
        var read = await Poll.Until(async () =>
        {
            await Task.Yield();
            try { return onA.Unprotect(payload); }
            catch (CryptographicException) { return null; }
        }, timeoutMs: 15_000);
        Assert.Equal([42], read);
    }

    [Fact]
    public void A_refresh_that_fails_leaves_the_loaded_ring_usable()
    {
        var store = new InMemoryKeyStore();
        using var services = Build(store);
        var protector = Protector(services);
        var valid = protector.Protect([5]);
        store.Fail = true;

        for (var round = 0; round < 3; round++)
        {
            var asked = Stopwatch.StartNew();
            Assert.Throws<CryptographicException>(() => protector.Unprotect(ForgedPayload()));
            // The first round's refresh runs on the thread pool, which a busy machine may start late: it has failed
            // before the next round asks (the later rounds are the point: they read nothing more).
            if (round == 0) SpinWait.SpinUntil(() => store.Failures > 0, TimeSpan.FromSeconds(15));
            if (asked.Elapsed < TimeSpan.FromMilliseconds(1100)) Thread.Sleep(TimeSpan.FromMilliseconds(1100) - asked.Elapsed);
            // Whichever call meets the failed refresh still gets the ring already loaded.
            for (var i = 0; i < 20; i++) Assert.Equal([5], protector.Unprotect(valid));
        }
        // DataProtection then extends the ring it has for two minutes before it reads again: one failed read.
        Assert.Equal(1, store.Failures);
        Assert.True(services.GetRequiredService<KeyRingHealth>().Usable);
        Assert.NotEmpty(protector.Protect([6]));
    }

    [Fact]
    public void Before_any_ring_has_loaded_a_failing_store_is_tried_at_most_once_a_second()
    {
        var store = new InMemoryKeyStore { Fail = true };
        using var services = Build(store);
        var protector = Protector(services);
        var health = services.GetRequiredService<KeyRingHealth>();

        for (var i = 0; i < 200; i++) Assert.Throws<CryptographicException>(() => protector.Unprotect(ForgedPayload()));
        Assert.Equal(1, store.Reads);
        Assert.False(health.Usable);

        store.Fail = false;
        Thread.Sleep(1100);
        var valid = protector.Protect([9]);
        Assert.True(health.Usable);
        Assert.Equal([9], protector.Unprotect(valid));
    }

    [Fact]
    public void A_forged_payload_arriving_during_shutdown_never_throws_anything_but_an_invalid_payload()
    {
        var services = Build(new InMemoryKeyStore());
        var protector = Protector(services);
        Assert.NotEmpty(protector.Protect([1]));
        var keys = services.GetRequiredService<RefreshableKeyManager>();
        var provider = services.GetRequiredService<BackgroundRefreshKeyRingProvider>();
        services.Dispose();

        // A request still running while the host stops: expiring the ring must not throw ObjectDisposedException (a 500).
        keys.ExpireCachedRing();
        Assert.False(provider.MayHold(ForgedPayload(), out _));
    }

    [Fact]
    public async Task Before_any_ring_has_loaded_callers_do_not_wait_on_an_attempt_hanging_on_the_store()
    {
        using var gate = new ManualResetEventSlim();
        var store = new InMemoryKeyStore { Gate = gate };
        using var services = Build(store);
        var protector = Protector(services);
        var firstLoad = Task.Run(() => protector.Protect([1]));
        // The first load is under way and hanging on the store (however late the thread pool started it).
        Assert.True(SpinWait.SpinUntil(() => store.Reads == 1, TimeSpan.FromSeconds(15)), "the first load never reached the store");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 50; i++) Assert.Throws<CryptographicException>(() => protector.Unprotect(ForgedPayload()));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"callers waited {watch.Elapsed.TotalMilliseconds:0} ms on the hanging first load");
        Assert.False(services.GetRequiredService<KeyRingHealth>().Usable);

        gate.Set();
        Assert.NotEmpty(await firstLoad);
        Assert.True(services.GetRequiredService<KeyRingHealth>().Usable);
        // What the first load costs alone on an empty store (read, create the first key, read again): the 50 callers added none.
        Assert.Equal(2, store.Reads);
    }

    /// <summary>DataProtection's header (magic, version 0) and a key id nobody has, over random bytes.</summary>
    internal static byte[] ForgedPayload()
    {
        var payload = RandomNumberGenerator.GetBytes(4 + 16 + 64);
        payload[0] = 0x09; payload[1] = 0xF0; payload[2] = 0xC9; payload[3] = 0xF0;
        return payload;
    }

    private static IDataProtector Protector(ServiceProvider services) =>
        services.GetRequiredService<IDataProtectionProvider>().CreateProtector("Gateway.SessionCookie.v1");

    private static ServiceProvider Build(InMemoryKeyStore store) => TestKeyRing.Build(store);
}
