using Gateway.Sessions;

namespace Gateway.Identity;

/// <summary>
/// An assertion signed for one session, held by its cached entry (<see cref="CachedSession.Assertion"/>) and reused
/// for the same audience and signing key until <see cref="RefreshAfter"/>. Its iat and jti are kept beside the token
/// so that a shed session can keep a seal of it (<see cref="AssertionSeal"/>) instead of the token.
/// </summary>
internal sealed record SignedAssertion(string Audience, string Kid, string Token, DateTimeOffset RefreshAfter)
{
    /// <summary>The token's iat, in Unix seconds.</summary>
    public long IssuedAt { get; init; }

    public UInt128 Jti { get; init; }

    public bool ServesFor(string audience, string kid, DateTimeOffset now) => Serves(RefreshAfter, Audience, Kid, audience, kid, now);

    /// <summary>
    /// When an assertion made for <paramref name="heldAudience"/> under <paramref name="heldKid"/> may be sent again: for
    /// the same audience, while the same key signs, until <paramref name="refreshAfter"/>. The held token and the seal a
    /// shed session keeps of it (<see cref="AssertionSeal"/>) both serve by this rule.
    /// </summary>
    internal static bool Serves(DateTimeOffset refreshAfter, string heldAudience, string heldKid, string audience, string kid, DateTimeOffset now) =>
        refreshAfter > now && heldAudience == audience && heldKid == kid;
}
