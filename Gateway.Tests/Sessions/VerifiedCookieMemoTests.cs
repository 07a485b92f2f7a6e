using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>
/// The memo of verified cookie values skips the cookie's MAC check, so it must never answer for a value that did not
/// verify: it holds each value's SHA-256, and anything else (one character changed, cut, extended) takes the full check.
/// </summary>
public sealed class VerifiedCookieMemoTests
{
    private static readonly string Value = string.Concat(Enumerable.Repeat("CfDJ8Abc-_xyz0123456789", 10));

    [Fact]
    public void A_remembered_value_maps_to_its_key_and_any_other_spelling_takes_the_full_check()
    {
        var memo = new VerifiedCookieMemo(100);
        var key = SessionKey.NewFor("alice");
        Assert.NotNull(memo.Remember(Value, key));

        Assert.True(memo.TryGet(Value, out var found, out var remembered));
        Assert.Equal(key, found);
        Assert.NotNull(remembered);
        foreach (var other in new[] { Value[..^1] + (Value[^1] == 'A' ? 'B' : 'A'), 'x' + Value[1..], Value[..^1], Value + "A", Value.ToUpperInvariant(), "" })
        {
            Assert.False(memo.TryGet(other, out var wrong, out var none), other);
            Assert.Equal(default, wrong);
            Assert.Null(none);
        }
    }

    [Fact]
    public void A_forgotten_value_takes_the_full_check_again()
    {
        var memo = new VerifiedCookieMemo(100);
        var remembered = memo.Remember(Value, SessionKey.NewFor("alice"))!;

        memo.Forget(remembered);

        Assert.False(memo.TryGet(Value, out _, out _));
        Assert.Equal(0, memo.Count);
    }

    [Fact]
    public void Values_that_are_not_ascii_or_too_long_are_never_remembered()
    {
        var memo = new VerifiedCookieMemo(100);
        Assert.Null(memo.Remember("caf\u00e9" + Value, SessionKey.NewFor("alice")));
        Assert.Null(memo.Remember(new string('a', VerifiedCookieMemo.MaxValueLength + 1), SessionKey.NewFor("alice")));
        Assert.Equal(0, memo.Count);
    }

    [Fact]
    public void When_full_the_memo_starts_over_rather_than_grow()
    {
        var memo = new VerifiedCookieMemo(3);
        for (var i = 0; i < 10; i++) memo.Remember(Value + i, SessionKey.NewFor("alice"));
        Assert.InRange(memo.Count, 1, 3);
    }
}
