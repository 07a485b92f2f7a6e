using Gateway.Sessions;

namespace Gateway.WarmUp;

/// <summary>The warm-up's signed-in user. Its session exists only in one replica's cache, for the warm-up's duration, under a random key.</summary>
internal static class WarmUpUser
{
    public const string Id = "gateway-warm-up@warm-up.invalid";

    public static SessionRecord Record(SessionKey key, DateTimeOffset now, TimeSpan lifetime) => new()
    {
        UserId = Id,
        Email = Id,
        Name = "Gateway warm-up",
        Roles = ["warm-up"],
        CreatedAt = now,
        AbsoluteExpiresAt = now + lifetime,
        Method = "warm-up",
        SessionHash = key.Handle.Hash,
    };
}
