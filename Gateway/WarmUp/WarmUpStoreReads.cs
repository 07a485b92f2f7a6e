using System.Security.Cryptography;
using Gateway.Sessions;

namespace Gateway.WarmUp;

/// <summary>
/// The path of every user's first request to a new replica, whose session cache starts empty: the store read (a Redis
/// GET through the read pipeline) and the record's decryption and JSON. The warm-up's own session never takes it (it
/// lives only in the cache), so this runs beside the load: reads of session ids that exist nowhere (the store is read,
/// never written; they count as cache misses, which they are) and an in-memory round trip of the warm-up's record.
/// Paced to 100 reads a second per starting replica, each under a new random user, so a fleet scaling out at once does
/// not pile onto one Redis Cluster slot. Anything going wrong (the store unreachable) ends it quietly: the warm-up goes on
/// without it, and the real requests that follow meet the same store and report it.
/// </summary>
internal sealed class WarmUpStoreReads(SessionManager sessions, SessionRecordProtector protector, TimeProvider time)
{
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(10);

    public long Reads { get; private set; }

    /// <summary>Never throws: returns when <paramref name="stop"/> is cancelled or the first read fails.</summary>
    public async Task RunAsync(SessionRecord record, CancellationToken stop)
    {
        try
        {
            var protectedRecord = protector.Protect(record);
            while (!stop.IsCancellationRequested)
            {
                var absent = SessionKey.NewFor(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
                if (await sessions.ResolveAsync(absent, stop) is not null) return;
                if (protector.Unprotect(protectedRecord) is null) return;
                Reads++;
                await Task.Delay(Pace, time, stop);
            }
        }
        catch (Exception)
        {
            // Cancellation, the store unavailable, the key ring unreadable: the warm-up's load decides, not this.
        }
    }
}
