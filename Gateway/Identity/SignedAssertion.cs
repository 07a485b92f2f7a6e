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

    public bool ServesFor(string audience, string kid, DateTimeOffset now) => RefreshAfter > now && Audience == audience && Kid == kid;
}
