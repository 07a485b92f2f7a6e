using System.Threading.RateLimiting;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Login;

/// <summary>Login attempts per user name and client address (per replica): slows password guessing on either axis.</summary>
internal sealed class LoginAttemptLimiter(IOptions<GatewayOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(key =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.Value.Login.AttemptsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    public bool TryAcquire(string? userName, string? clientAddress)
    {
        using var lease = _limiter.AttemptAcquire($"{(userName ?? "").Trim().ToLowerInvariant()}|{clientAddress}");
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
