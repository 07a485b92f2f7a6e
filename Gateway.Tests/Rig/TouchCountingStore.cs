using Gateway.Sessions;

namespace Gateway.Tests.Rig;

/// <summary>
/// A store whose sliding-expiry writes (sent in the background, off the request) are counted once they have landed,
/// with the size of each call that carried them, and, while <see cref="Hold"/> is set, held back until it is released.
/// </summary>
internal sealed class TouchCountingStore(ISessionStore inner) : DelegatingSessionStore(inner)
{
    private int _touches;

    public int Touches => Volatile.Read(ref _touches);

    /// <summary>How many sessions each call to the store carried, in the order the calls came.</summary>
    public IReadOnlyList<int> CallSizes { get { lock (_calls) return [.. _calls]; } }

    private readonly List<int> _calls = [];

    public TaskCompletionSource? Hold { get; set; }

    /// <summary>While set, each call that comes fails with it (after <see cref="Hold"/>), as the Redis store does in an outage.</summary>
    public StoreUnavailableException? Failure { get; set; }

    public override async Task<SlideOutcome[]> TouchAsync(IReadOnlyList<SessionSlide> slides, CancellationToken cancellationToken)
    {
        var failure = Failure;
        lock (_calls) _calls.Add(slides.Count);
        if (Hold is { } hold) await hold.Task;
        if (failure is not null) throw failure;
        var slid = await Inner.TouchAsync(slides, cancellationToken);
        Interlocked.Add(ref _touches, slides.Count);
        return slid;
    }
}
