using System.Reflection;
using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>
/// What a replica keeps of a session between store round trips, and what it must not keep; its instants as UTC ticks,
/// each read back as the same instant.
/// </summary>
public sealed class CachedRecordTests
{
    private const string IdToken = "eyJhbGciOiJSUzI1NiJ9.id-token-of-the-provider.signature";
    private const string RefreshToken = "refresh-token-of-the-provider";
    private const string ProviderSid = "provider-session-id";
    private const string SessionHash = "hash-of-the-session-id-in-the-record";
    private const string Device = "Firefox on Linux (device line)";
    private const string Network = "203.0.113.0/24";

    private static SessionRecord OidcRecord(string[] roles) => new()
    {
        UserId = "u-42", Email = "u42@example.test", Name = "User Forty-Two", Roles = roles, Method = "oidc",
        CreatedAt = DateTimeOffset.UnixEpoch, AbsoluteExpiresAt = DateTimeOffset.UnixEpoch.AddHours(8),
        IdToken = IdToken, RefreshToken = RefreshToken, ProviderSessionId = ProviderSid, SessionHash = SessionHash,
        Device = Device, Network = Network,
        AccessToken = "access-token-routes-forward", AccessTokenExpiresAt = DateTimeOffset.UnixEpoch.AddHours(1),
    };

    [Fact]
    public void A_cached_session_keeps_no_provider_token_sid_device_network_or_record_hash()
    {
        var session = new CachedSession(SessionKey.NewFor("u-42"), OidcRecord(["editor"]), DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(30));
        // Everything a request can make it build: claims of both principals, the feature.
        _ = session.Principal.Claims.ToList();
        _ = session.FrameworkPrincipal.Claims.ToList();
        _ = session.Feature;

        var strings = ReachableStrings(session);

        Assert.DoesNotContain(IdToken, strings);
        Assert.DoesNotContain(RefreshToken, strings);
        Assert.DoesNotContain(ProviderSid, strings);
        Assert.DoesNotContain(SessionHash, strings);
        Assert.DoesNotContain(Device, strings);
        Assert.DoesNotContain(Network, strings);
        // What requests do read stays: the walk is not blind.
        Assert.Contains("u-42", strings);
        Assert.Contains("access-token-routes-forward", strings);
        Assert.Equal(DateTimeOffset.UnixEpoch.AddHours(1), session.Record.AccessTokenExpiresAt);
        Assert.Equal(DateTimeOffset.UnixEpoch.AddHours(8), session.Record.AbsoluteExpiresAt);
    }

    private static CachedSession Shed(CachedSession session)
    {
        Assert.True(session.TryMarkIdle());
        Assert.True(session.TryShed(DateTimeOffset.UnixEpoch, out _));
        return session;
    }

    [Fact]
    public void A_shed_sessions_ascii_identity_is_held_as_its_bytes_reads_back_exactly_and_is_strings_again_once_woken()
    {
        foreach (var (email, name) in new[]
        {
            ("u42@example.test", "User Forty-Two"), (null, "User Forty-Two"), ("u42@example.test", null), ((string?)null, (string?)null),
            ("", "Bo"), ("a@b.c", ""), ("", ""), ("a-much-longer-address-than-the-name@example.test", "Al"),
        })
        {
            var session = new CachedSession(SessionKey.NewFor("u-42"), OidcRecord(["editor"]) with { Email = email, Name = name },
                DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(30));
            Assert.Contains("u-42", ReachableStrings(session));

            Shed(session);
            Assert.DoesNotContain("u-42", ReachableStrings(session));
            Assert.Equal(("u-42", email, name), (session.Record.UserId, session.Record.Email, session.Record.Name));

            Assert.True(session.MarkUsed());
            Assert.Contains("u-42", ReachableStrings(session));
            Assert.Equal(("u-42", email, name), (session.Record.UserId, session.Record.Email, session.Record.Name));
        }
    }

    [Fact]
    public void A_shed_sessions_identity_that_is_not_all_ascii_stays_its_strings_so_no_two_users_read_back_as_one()
    {
        // Lone surrogates have no byte form: held as bytes, these two ids would both read back as "u-\uFFFD".
        foreach (var (userId, email, name) in new[] { ("u-\ud800", (string?)null, (string?)null), ("u-\udc00", null, null), ("zoë", "zoë@example.test", "Zoë"), ("u-7", "u7@example.test", "名前") })
        {
            var session = new CachedSession(SessionKey.NewFor(userId), OidcRecord([]) with { UserId = userId, Email = email, Name = name },
                DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(30));
            Shed(session);
            Assert.Contains(userId, ReachableStrings(session));
            Assert.Equal((userId, email, name), (session.Record.UserId, session.Record.Email, session.Record.Name));
        }
    }

    [Fact]
    public async Task Readers_see_the_same_identity_while_the_record_is_packed_and_unpacked_under_them()
    {
        var record = CachedRecord.Of(OidcRecord([]));
        Assert.True(record.Packable);
        var done = 0;
        using var reading = new CountdownEvent(2);
        var flipper = Task.Run(() =>
        {
            Assert.True(reading.Wait(TimeSpan.FromMinutes(1)), "the readers never started");
            for (var i = 0; i < 200_000; i++)
            {
                record.Pack();
                record.Unpack();
            }
            Volatile.Write(ref done, 1);
        });
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var reads = 0;
            try
            {
                do
                {
                    Assert.Equal(("u-42", "u42@example.test", "User Forty-Two"), (record.UserId, record.Email, record.Name));
                    if (reads++ == 0) reading.Signal();
                }
                while (Volatile.Read(ref done) == 0);
            }
            finally
            {
                // A reader that failed before its first read must not leave the flipper waiting.
                if (reads == 0) reading.Signal();
            }
            return reads;
        })).ToArray();
        await flipper;
        Assert.All(await Task.WhenAll(readers), reads => Assert.True(reads > 1));
    }

    [Fact]
    public void Sessions_with_the_same_roles_share_one_copy_that_no_caller_can_change()
    {
        var pool = new RoleSets(maxSets: 8, maxChars: 1000);
        var first = new[] { "editor", "staff" };
        // Equal strings that are not the same objects, as two records read from the store have.
        var second = new[] { new string("editor".AsSpan()), new string("staff".AsSpan()) };

        var a = pool.Shared(first, out _);
        var b = pool.Shared(second, out _);
        first[0] = "admin";

        Assert.True(a == b, "the second session should share the first one's array");
        Assert.Equal(["editor", "staff"], a);
        Assert.Equal(1, pool.Count);
    }

    [Fact]
    public void Role_sets_differing_in_order_or_case_are_not_shared()
    {
        var pool = new RoleSets(maxSets: 8, maxChars: 1000);
        var a = pool.Shared(["editor", "staff"], out _);
        var b = pool.Shared(["staff", "editor"], out _);
        var c = pool.Shared(["Editor", "staff"], out _);

        Assert.Equal(["staff", "editor"], b);
        Assert.Equal(["Editor", "staff"], c);
        Assert.False(a == b || a == c || b == c);
        Assert.Equal(3, pool.Count);
    }

    [Fact]
    public void Past_its_bound_the_pool_keeps_each_sessions_own_copy()
    {
        var pool = new RoleSets(maxSets: 2, maxChars: 1000);
        pool.Shared(["a"], out _);
        pool.Shared(["b"], out _);
        var input = new[] { "c", "d" };

        var first = pool.Shared(input, out _);
        var again = pool.Shared(["c", "d"], out _);
        input[0] = "changed";

        Assert.Equal(["c", "d"], first);
        Assert.Equal(["c", "d"], again);
        Assert.False(first == again);
        Assert.Equal(2, pool.Count);
    }

    [Fact]
    public void Past_its_character_bound_the_pool_keeps_each_sessions_own_copy()
    {
        var pool = new RoleSets(maxSets: 8, maxChars: 10);
        pool.Shared(["abcdef"], out var first);
        var big = pool.Shared(["ghijklmn"], out var second);

        Assert.True(first);
        Assert.False(second);
        Assert.Equal(["ghijklmn"], big);
        Assert.Equal(1, pool.Count);
    }

    [Fact]
    public void Two_cached_sessions_with_the_same_roles_share_them()
    {
        var now = DateTimeOffset.UnixEpoch;
        var a = new CachedSession(SessionKey.NewFor("u-a"), OidcRecord(["shared-role-test", "staff"]), now, now.AddSeconds(30));
        var b = new CachedSession(SessionKey.NewFor("u-b"), OidcRecord([new string("shared-role-test".AsSpan()), "staff"]), now, now.AddSeconds(30));

        Assert.True(a.Record.Roles == b.Record.Roles, "both sessions should hold the one shared array");
        Assert.False(a.Record.RolesOwned || b.Record.RolesOwned);
    }

    [Fact]
    public void A_session_whose_roles_the_pool_cannot_take_counts_them_in_its_own_estimate()
    {
        // A provider sending hundreds of long group ids: more characters than the shared pool takes at all.
        var groups = Enumerable.Range(0, 300).Select(i => $"group-{i}-" + new string('x', 1000)).ToArray();
        var now = DateTimeOffset.UnixEpoch;
        var heavy = new CachedSession(SessionKey.NewFor("u-h"), OidcRecord(groups), now, now.AddSeconds(30));
        var light = new CachedSession(SessionKey.NewFor("u-l"), OidcRecord(["editor"]), now, now.AddSeconds(30));

        Assert.True(heavy.Record.RolesOwned);
        var roleChars = groups.Sum(g => (long)g.Length);
        // Its own copy (2 bytes a character) on top of what every session pays for spelling its roles out.
        Assert.InRange(heavy.EstimatedBytes - light.EstimatedBytes, roleChars * 2 + roleChars * 14 / 3, long.MaxValue);
    }

    [Fact]
    public void No_roles_is_an_empty_set()
    {
        var roles = new RoleSets(maxSets: 2, maxChars: 1000).Shared([], out _);
        Assert.True(roles.IsEmpty);
    }

    /// <summary>Every string reachable from <paramref name="root"/> through instance fields, arrays included.</summary>
    private static HashSet<string> ReachableStrings(object root)
    {
        var strings = new HashSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            if (!seen.Add(current)) continue;
            if (current is string text)
            {
                strings.Add(text);
                continue;
            }
            var type = current.GetType();
            if (type.IsPrimitive || current is Type or Delegate or MemberInfo || type.IsPointer) continue;
            if (current is Array array)
            {
                if (type.GetElementType()!.IsPrimitive) continue;
                foreach (var item in array)
                    if (item is not null) pending.Push(item);
                continue;
            }
            for (var t = type; t is not null; t = t.BaseType)
                foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                    if (!field.FieldType.IsPointer && field.GetValue(current) is { } value)
                        pending.Push(value);
        }
        Assert.True(seen.Count > 10, "the walk should reach the session's objects");
        return strings;
    }

    [Fact]
    public void Each_instant_reads_back_as_the_same_instant_in_UTC_and_an_absent_one_as_none()
    {
        var plus2 = new DateTimeOffset(2026, 12, 7, 10, 30, 15, 123, TimeSpan.FromHours(2)).AddTicks(4567);
        var record = new SessionRecord
        {
            UserId = "u", Method = "oidc", CreatedAt = plus2.AddHours(-1), AbsoluteExpiresAt = plus2.AddHours(8), AccessTokenExpiresAt = plus2.AddMinutes(5),
            AuthenticatedAt = plus2, IssuedAt = plus2.AddSeconds(1),
        };

        var cached = CachedRecord.Of(record);

        Assert.Equal((plus2.AddHours(8).UtcTicks, TimeSpan.Zero), (cached.AbsoluteExpiresAt.UtcTicks, cached.AbsoluteExpiresAt.Offset));
        Assert.Equal(plus2.AddMinutes(5).UtcTicks, cached.AccessTokenExpiresAt!.Value.UtcTicks);
        Assert.Equal(plus2.UtcTicks, cached.AuthenticatedAt!.Value.UtcTicks);
        Assert.Equal(plus2.ToUnixTimeSeconds(), cached.AuthenticatedAt!.Value.ToUnixTimeSeconds());
        Assert.Equal(plus2.AddSeconds(1).UtcTicks, cached.IssuedAt.UtcTicks);

        var bare = CachedRecord.Of(new SessionRecord { UserId = "u", Method = "dev", CreatedAt = plus2, AbsoluteExpiresAt = plus2.AddHours(8) });
        Assert.Null(bare.AccessTokenExpiresAt);
        Assert.Null(bare.AuthenticatedAt);
        // A record from before IssuedAt existed is compared with revoke-all marks by its creation.
        Assert.Equal(plus2.UtcTicks, bare.IssuedAt.UtcTicks);

        // The earliest instant there is stays an instant: an access token expiring then is long expired, not unknown.
        var earliest = CachedRecord.Of(record with { AccessTokenExpiresAt = DateTimeOffset.MinValue, AuthenticatedAt = DateTimeOffset.MinValue });
        Assert.Equal(DateTimeOffset.MinValue, earliest.AccessTokenExpiresAt);
        Assert.Equal(DateTimeOffset.MinValue, earliest.AuthenticatedAt);
    }
}
