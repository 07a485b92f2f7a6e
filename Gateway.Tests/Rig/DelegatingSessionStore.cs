using Gateway.Sessions;

namespace Gateway.Tests.Rig;

/// <summary>A session store that passes every call to <paramref name="inner"/>; tests override the calls they watch or bend.</summary>
internal abstract class DelegatingSessionStore(ISessionStore inner) : ISessionStore
{
    protected ISessionStore Inner { get; } = inner;

    public virtual Task<SlideOutcome[]> TouchAsync(IReadOnlyList<SessionSlide> slides, CancellationToken cancellationToken) => Inner.TouchAsync(slides, cancellationToken);
    public virtual Task<StoredSession?> GetAsync(SessionHandle session, CancellationToken cancellationToken) => Inner.GetAsync(session, cancellationToken);
    public virtual Task<SessionRead[]> GetEachAsync(IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken) => Inner.GetEachAsync(sessions, cancellationToken);
    public virtual Task<byte[]?> TakeAsync(SessionHandle session, CancellationToken cancellationToken) => Inner.TakeAsync(session, cancellationToken);
    public virtual Task<int> CreateAsync(SessionHandle session, byte[] record, TimeSpan ttl, CancellationToken cancellationToken) => Inner.CreateAsync(session, record, ttl, cancellationToken);
    public virtual Task<IReadOnlyList<StoredSession?>> GetManyAsync(string userTag, IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken) => Inner.GetManyAsync(userTag, sessions, cancellationToken);
    public virtual Task<bool> ReplaceAsync(SessionHandle session, byte[] record, CancellationToken cancellationToken) => Inner.ReplaceAsync(session, record, cancellationToken);
    public virtual Task<string?> TryLockAsync(SessionHandle session, string purpose, TimeSpan ttl, CancellationToken cancellationToken) => Inner.TryLockAsync(session, purpose, ttl, cancellationToken);
    public virtual Task UnlockAsync(SessionHandle session, string purpose, string holder, CancellationToken cancellationToken) => Inner.UnlockAsync(session, purpose, holder, cancellationToken);
    public virtual Task<bool> DeleteAsync(SessionHandle session, CancellationToken cancellationToken) => Inner.DeleteAsync(session, cancellationToken);
    public virtual Task<IReadOnlyList<IndexedSession>> ListByUserAsync(string userTag, int max, CancellationToken cancellationToken) => Inner.ListByUserAsync(userTag, max, cancellationToken);
    public virtual Task<int> DeleteByUserAsync(string userTag, DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken) => Inner.DeleteByUserAsync(userTag, revokedBefore, markerLifetime, cancellationToken);
    public virtual Task<int> DeleteAllAsync(DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken) => Inner.DeleteAllAsync(revokedBefore, markerLifetime, cancellationToken);
    public virtual Task<DateTimeOffset> NowAsync(CancellationToken cancellationToken) => Inner.NowAsync(cancellationToken);
    public virtual Task ConfirmAsync(string userTag, CancellationToken cancellationToken) => Inner.ConfirmAsync(userTag, cancellationToken);
    public virtual Task MarkRevokedAsync(string? userTag, DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken) => Inner.MarkRevokedAsync(userTag, revokedBefore, markerLifetime, cancellationToken);
}
