using Gateway.Sessions;

namespace Gateway.Identity;

/// <summary>
/// An assertion signed for one session, held by its cached entry (<see cref="CachedSession.Assertion"/>) and reused
/// for the same audience and signing key until <see cref="RefreshAfter"/>.
/// </summary>
internal sealed record SignedAssertion(string Audience, string Kid, string Token, DateTimeOffset RefreshAfter)
{
    public bool ServesFor(string audience, string kid, DateTimeOffset now) => RefreshAfter > now && Audience == audience && Kid == kid;
}
