using Gateway.Sessions;

namespace Gateway.Tests.Rig;

/// <summary>
/// A store whose sliding-expiry writes (sent in the background, off the request) are counted once they have landed,
/// and, while <see cref="Hold"/> is set, held back until it is released.
/// </summary>
internal sealed class TouchCountingStore(ISessionStore inner) : DelegatingSessionStore(inner)
{
    private int _touches;

    public int Touches => Volatile.Read(ref _touches);

    public TaskCompletionSource? Hold { get; set; }

    public override async Task<bool> TouchAsync(SessionHandle session, TimeSpan ttl, CancellationToken cancellationToken)
    {
        if (Hold is { } hold) await hold.Task;
        var slid = await Inner.TouchAsync(session, ttl, cancellationToken);
        Interlocked.Increment(ref _touches);
        return slid;
    }
}
