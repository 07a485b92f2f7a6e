using Gateway.Sessions;

namespace Gateway.WarmUp;

/// <summary>
/// The path of every user's first request to a new replica, whose session cache starts empty: the store read (a Redis
/// GET through the read pipeline) and the record's decryption and JSON. The warm-up's own session never takes it (it
/// lives only in the cache), so this runs beside the load: a read of a session id that exists nowhere (the store is
/// read, never written) and an in-memory round trip of the warm-up's record. Paced, so a starting replica costs the
/// shared Redis at most a few hundred reads a second. A store that cannot answer ends it quietly: the warm-up goes on.
/// </summary>
internal sealed class WarmUpStoreReads(SessionManager sessions, SessionRecordProtector protector, TimeProvider time)
{
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(4);

    public long Reads { get; private set; }

    public async Task RunAsync(SessionRecord record, CancellationToken stop)
    {
        var absent = SessionKey.NewFor(WarmUpUser.Id);
        var protectedRecord = protector.Protect(record);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                // A random 256-bit id that was never issued: the store has nothing under it and nothing is written.
                if (await sessions.ResolveAsync(absent, stop) is not null) return;
                if (protector.Unprotect(protectedRecord) is null) return;
                Reads++;
                await Task.Delay(Pace, time, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (StoreUnavailableException)
        {
        }
    }
}
