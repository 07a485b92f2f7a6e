using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Gateway.Configuration;
using Gateway.Identity;
using Gateway.KeyRing;
using Gateway.Sessions;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;

namespace Gateway.Tests.Security;

/// <summary>
/// The shared Redis as an attacker sees it. A reader (the CMS's credentials, a replica, a backup) gets nothing
/// usable; a writer can delete sessions but never create one that authenticates.
/// </summary>
public sealed class RedisReaderAndWriterTests
{
    private const string DataProtectionList = "DataProtection-Keys";

    [Fact]
    public async Task A_redis_reader_can_mint_no_cookie_and_decrypt_no_record_or_signing_key()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var key = ReadKey(rig.Gateway, browser.Cookie("gw_session")!);

        // Everything SCAN, GET, LRANGE, HGETALL, SMEMBERS and ZRANGE return.
        await using var mux = await redis.ConnectAsync();
        var dump = await DumpAsync(mux);
        Assert.Contains(dump, d => d.Key == DataProtectionList);
        Assert.Contains(dump, d => d.Key.EndsWith("signing-keys", StringComparison.Ordinal));

        // No key material in plaintext, and the session id the cookie carries appears nowhere.
        Assert.DoesNotContain(dump, d => d.Values.Any(v => Encoding.UTF8.GetString(v).Contains("masterKey", StringComparison.Ordinal)));
        var id = key.CookiePayload().Split('.')[1];
        Assert.DoesNotContain(dump, d => d.Key.Contains(id, StringComparison.Ordinal) || d.Values.Any(v => Encoding.UTF8.GetString(v).Contains(id, StringComparison.Ordinal)));

        // The reader builds DataProtection from the dumped ring, even with the gateway's own decryptor and a key-encryption key of its guessing.
        var ring = dump.Single(d => d.Key == DataProtectionList).Values.Select(v => XElement.Parse(Encoding.UTF8.GetString(v))).ToList();
        var attacker = AttackerProvider(ring, withGatewayDecryptor: true);
        var sessionRecords = dump.Where(d => d.Key.Contains(":s:", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(sessionRecords);
        foreach (var record in sessionRecords)
            Assert.ThrowsAny<CryptographicException>(() => attacker.CreateProtector("Gateway.SessionRecord.v1").Unprotect(record.Values[0]));
        var signingKeys = dump.Single(d => d.Key.EndsWith("signing-keys", StringComparison.Ordinal));
        foreach (var json in signingKeys.Values.Where(v => v.Length > 0 && v[0] == '{'))
        {
            var stored = JsonSerializer.Deserialize<StoredSigningKey>(json)!;
            Assert.ThrowsAny<CryptographicException>(() => attacker.CreateProtector("Gateway.AssertionSigningKey.v1").Unprotect(stored.ProtectedPrivateKey));
        }

        // Even knowing the session id, a cookie minted with what Redis holds is anonymous.
        string? forged = null;
        try { forged = Base64Url.EncodeToString(attacker.CreateProtector("Gateway.SessionCookie.v1").Protect(Encoding.ASCII.GetBytes(key.CookiePayload()))); }
        catch (CryptographicException) { }
        if (forged is not null)
        {
            using var mallory = rig.Gateway.Browser();
            mallory.SetCookie("gw_session", forged);
            Assert.Equal(HttpStatusCode.Unauthorized, (await mallory.ApiGetAsync("/api/whoami")).StatusCode);
        }
    }

    public static TheoryData<string> PlantedKeys => new() { "unencrypted", "null-decryptor" };

    [Theory]
    [MemberData(nameof(PlantedKeys))]
    public async Task A_key_planted_in_the_ring_by_a_redis_writer_is_ignored_and_its_cookies_are_anonymous(string kind)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        await using var mux = await redis.ConnectAsync();
        var db = mux.GetDatabase();

        // The writer makes a DataProtection key of its own and appends it to the shared ring.
        var planted = new List<XElement>();
        var attacker = AttackerProvider(planted, withGatewayDecryptor: false, encryptor: kind == "null-decryptor" ? new NullXmlEncryptor() : null);
        var admin = SessionKey.NewFor("admin");
        var record = new SessionRecord
        {
            UserId = "admin", Roles = ["editor", "admin"], CreatedAt = DateTimeOffset.UtcNow, AbsoluteExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
            Method = "dev", SessionHash = admin.Handle.Hash,
        };
        var recordBytes = attacker.CreateProtector("Gateway.SessionRecord.v1").Protect(JsonSerializer.SerializeToUtf8Bytes(record, SessionJson.Default.SessionRecord));
        var cookie = Base64Url.EncodeToString(attacker.CreateProtector("Gateway.SessionCookie.v1").Protect(Encoding.ASCII.GetBytes(admin.CookiePayload())));
        Assert.Single(planted);
        Assert.Equal(kind == "null-decryptor", planted[0].ToString().Contains("NullXmlDecryptor", StringComparison.Ordinal));
        await db.ListRightPushAsync(DataProtectionList, planted[0].ToString(SaveOptions.DisableFormatting));
        await db.StringSetAsync($"{rig.KeyPrefix}{{u:{admin.UserTag}}}:s:{admin.Handle.Hash}", recordBytes, TimeSpan.FromHours(1));

        // A replica that starts now reads the ring with the planted key in it.
        var config = new GatewayConfig().WithRedis(redis.Configuration, rig.KeyPrefix);
        await using var fresh = await GatewayHost.StartAsync(config);
        using var mallory = fresh.Browser();
        mallory.SetCookie("gw_session", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, (await mallory.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Contains(fresh.Logs.Lines, l => l.Event.Name == "KeyRingElementRejected");

        // The planted key did not become the gateway's: a real login still works and the attacker cannot read its cookie.
        using var alice = fresh.Browser();
        Assert.Equal(HttpStatusCode.SeeOther, (await alice.LoginAsync("alice", "alice-password")).StatusCode);
        Assert.ThrowsAny<CryptographicException>(() =>
            attacker.CreateProtector("Gateway.SessionCookie.v1").Unprotect(Base64Url.DecodeFromChars(alice.Cookie("gw_session")!)));
    }

    [Fact]
    public async Task A_redis_writer_moving_an_admin_record_under_its_own_session_gains_nothing()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var admin = await rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        using var alice = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var adminKey = ReadKey(rig.Gateway, admin.Cookie("gw_session")!);
        var aliceKey = ReadKey(rig.Gateway, alice.Cookie("gw_session")!);

        await using var mux = await redis.ConnectAsync();
        var db = mux.GetDatabase();
        var adminRecord = await db.StringGetAsync($"{rig.KeyPrefix}{{u:{adminKey.UserTag}}}:s:{adminKey.Handle.Hash}");
        Assert.False(adminRecord.IsNull);
        await db.StringSetAsync($"{rig.KeyPrefix}{{u:{aliceKey.UserTag}}}:s:{aliceKey.Handle.Hash}", adminRecord, TimeSpan.FromHours(1));

        // A replica without a cached copy reads the swapped record: alice's cookie does not become admin.
        await using var fresh = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration, rig.KeyPrefix));
        using var replay = fresh.Browser();
        replay.SetCookie("gw_session", alice.Cookie("gw_session")!);
        Assert.Equal(HttpStatusCode.Unauthorized, (await replay.ApiGetAsync("/api/whoami")).StatusCode);
    }

    private static SessionKey ReadKey(GatewayHost host, string cookie)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = $"gw_session={cookie}";
        return host.Services.GetRequiredService<SessionCookies>().Read(context.Request)!.Value;
    }

    private static async Task<List<(string Key, List<byte[]> Values)>> DumpAsync(ConnectionMultiplexer mux)
    {
        var db = mux.GetDatabase();
        var result = new List<(string, List<byte[]>)>();
        foreach (var key in mux.GetServer(mux.GetEndPoints()[0]).Keys(pattern: "*"))
        {
            var values = await db.KeyTypeAsync(key) switch
            {
                RedisType.String => [(byte[])(await db.StringGetAsync(key))!],
                RedisType.List => (await db.ListRangeAsync(key)).Select(v => (byte[])v!).ToList(),
                RedisType.Hash => (await db.HashGetAllAsync(key)).SelectMany(e => new[] { (byte[])e.Name!, (byte[])e.Value! }).ToList(),
                RedisType.Set => (await db.SetMembersAsync(key)).Select(v => (byte[])v!).ToList(),
                RedisType.SortedSet => (await db.SortedSetRangeByRankAsync(key)).Select(v => (byte[])v!).ToList(),
                _ => new List<byte[]>(),
            };
            result.Add(((string)key!, values));
        }
        return result;
    }

    /// <summary>DataProtection as an attacker would assemble it, over a ring it controls, with the gateway's application name.</summary>
    private static IDataProtectionProvider AttackerProvider(List<XElement> ring, bool withGatewayDecryptor, IXmlEncryptor? encryptor = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDataProtection().SetApplicationName("Gateway");
        services.Configure<KeyManagementOptions>(o =>
        {
            o.XmlRepository = new ListRepository(ring);
            o.XmlEncryptor = encryptor;
        });
        if (withGatewayDecryptor)
        {
            var guessed = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            services.AddSingleton(new KeyEncryptionKeys(Microsoft.Extensions.Options.Options.Create(new KeyRingOptions { KeyEncryptionKey = guessed })));
        }
        return services.BuildServiceProvider().GetRequiredService<IDataProtectionProvider>();
    }

    private sealed class ListRepository(List<XElement> elements) : IXmlRepository
    {
        public IReadOnlyCollection<XElement> GetAllElements() => elements.ToList();

        public void StoreElement(XElement element, string friendlyName) => elements.Add(element);
    }
}
