using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>
/// A cached session holds its short hash as a number; a revocation names sessions by the 16 hex digits. Only the exact
/// spelling names a session: the cache drops that one and no other, whatever else the message carries. A session key
/// holds its user tag as bits too; a revocation naming a user by tag is matched the same way.
/// </summary>
public sealed class ShortHashRevocationTests
{
    [Fact]
    public void The_number_a_cached_session_holds_spells_the_short_hash_logs_and_revocations_use()
    {
        for (var i = 0; i < 200; i++)
        {
            var key = SessionKey.NewFor($"user-{i}");
            var now = DateTimeOffset.UtcNow;
            var session = new CachedSession(key, StandaloneCache.Record($"user-{i}", now), now, now.AddSeconds(30));
            Assert.Matches("^[0-9a-f]{16}$", key.ShortHash);
            Assert.Equal(key.ShortHash, session.ShortHash);
            Assert.True(SessionHandle.TryParseShortHash(key.ShortHash, out var bits));
            Assert.Equal(session.ShortHashBits, bits);
        }
    }

    [Theory]
    [InlineData("upper")]
    [InlineData("prefix")]
    [InlineData("padded")]
    [InlineData("signed")]
    [InlineData("hex-marked")]
    public void A_revocation_that_misspells_a_short_hash_drops_nothing(string misspelling)
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, maxEntries: 100);
        var now = clock.GetUtcNow();
        var session = StandaloneCache.Entry("alice", now);
        cache.Set(session, cache.Generation);
        var hash = session.ShortHash;
        var spelled = misspelling switch
        {
            "upper" => hash.ToUpperInvariant(),
            "prefix" => hash[..15],
            "padded" => " " + hash,
            "signed" => "+" + hash[1..],
            _ => "0x" + hash[2..],
        };
        // Upper case only differs where the hash has a letter; a hash of digits alone spells the same either way.
        if (spelled == hash) return;

        cache.Apply(new SessionRevocation([spelled, "zzzzzzzzzzzzzzzz", ""]));

        Assert.True(cache.TryGet(session.Key, now, out _));
    }

    [Fact]
    public void A_revocation_naming_one_short_hash_drops_that_session_and_keeps_the_others()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, maxEntries: 100);
        var now = clock.GetUtcNow();
        var sessions = Enumerable.Range(0, 20).Select(i => StandaloneCache.Entry($"u{i}", now)).ToList();
        foreach (var session in sessions) cache.Set(session, cache.Generation);

        cache.Apply(new SessionRevocation([sessions[7].ShortHash]) { ChangedHashes = [sessions[11].ShortHash] });

        for (var i = 0; i < sessions.Count; i++)
            Assert.Equal(i is not (7 or 11), cache.TryGet(sessions[i].Key, now, out _));
    }

    [Fact]
    public void A_revocation_naming_a_user_tag_drops_every_session_of_that_user_and_no_other()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, maxEntries: 100);
        var now = clock.GetUtcNow();
        var alice = Enumerable.Range(0, 3).Select(_ => StandaloneCache.Entry("alice", now)).ToList();
        var bob = StandaloneCache.Entry("bob", now);
        foreach (var session in alice.Append(bob)) cache.Set(session, cache.Generation);

        cache.Apply(new SessionRevocation([]) { UserTags = [SessionKey.TagFor("alice")] });

        Assert.All(alice, session => Assert.False(cache.TryGet(session.Key, now, out _)));
        Assert.True(cache.TryGet(bob.Key, now, out _));
    }

    [Theory]
    [InlineData("lower")]
    [InlineData("short")]
    [InlineData("padded")]
    [InlineData("base64")]
    [InlineData("spaced")]
    public void A_revocation_that_misspells_a_user_tag_drops_nothing(string misspelling)
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, maxEntries: 100);
        var now = clock.GetUtcNow();
        // A user whose tag has a '-', so its standard base64 spelling differs.
        var session = StandaloneCache.Entry("user-4", now);
        cache.Set(session, cache.Generation);
        var tag = SessionKey.TagFor("user-4");
        var spelled = misspelling switch
        {
            "lower" => tag.ToLowerInvariant(),
            "short" => tag[..15],
            "padded" => tag + "=",
            // The same bytes in standard base64: '+' and '/' where base64url has '-' and '_'.
            "base64" => tag.Replace('-', '+').Replace('_', '/'),
            _ => tag[..8] + " " + tag[9..],
        };
        Assert.NotEqual(tag, spelled);

        cache.Apply(new SessionRevocation([]) { UserTags = [spelled, "", "!!!!!!!!!!!!!!!!"] });

        Assert.True(cache.TryGet(session.Key, now, out _));
    }
}
