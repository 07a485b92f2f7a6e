namespace Gateway.Sessions;

/// <summary>
/// Sessions every replica must drop from its cache now: named by <see cref="SessionHandle.ShortHash"/>, or all
/// sessions of the users named by tag, or everything.
/// </summary>
internal sealed record SessionRevocation(IReadOnlyList<string> SessionHashes, bool All = false)
{
    public static readonly SessionRevocation Everything = new([], All: true);

    public IReadOnlyList<string> UserTags { get; init; } = [];

    /// <summary>Sessions whose record changed (new tokens): caches drop the old copy; the session itself lives on.</summary>
    public IReadOnlyList<string> ChangedHashes { get; init; } = [];

    public static SessionRevocation OfChange(string sessionHash) => new([]) { ChangedHashes = [sessionHash] };

    public static SessionRevocation OfUser(string userTag) => new([]) { UserTags = [userTag] };

    /// <summary>Several revocations as one: everything, if any is; else all the sessions, users and changes they name.</summary>
    public static SessionRevocation Merge(IReadOnlyList<SessionRevocation> revocations) =>
        revocations.Count == 1 ? revocations[0]
        : revocations.Any(r => r.All) ? Everything
        : new SessionRevocation(revocations.SelectMany(r => r.SessionHashes).ToList())
        {
            UserTags = revocations.SelectMany(r => r.UserTags).ToList(),
            ChangedHashes = revocations.SelectMany(r => r.ChangedHashes).ToList(),
        };

    private const string AllMarker = "*";
    private const string UserPrefix = "u:";
    private const string ChangedPrefix = "c:";

    /// <summary>The wire form between replicas: <c>*</c>, or a comma list of short hashes and <c>u:TAG</c> entries.</summary>
    public string Encode() =>
        All ? AllMarker : string.Join(',', SessionHashes.Concat(UserTags.Select(t => UserPrefix + t)).Concat(ChangedHashes.Select(h => ChangedPrefix + h)));

    public static SessionRevocation? Decode(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (text == AllMarker) return Everything;
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries);
        return new SessionRevocation(parts.Where(p => !p.StartsWith(UserPrefix, StringComparison.Ordinal) && !p.StartsWith(ChangedPrefix, StringComparison.Ordinal)).ToList())
        {
            UserTags = parts.Where(p => p.StartsWith(UserPrefix, StringComparison.Ordinal)).Select(p => p[UserPrefix.Length..]).ToList(),
            ChangedHashes = parts.Where(p => p.StartsWith(ChangedPrefix, StringComparison.Ordinal)).Select(p => p[ChangedPrefix.Length..]).ToList(),
        };
    }
}

/// <summary>Carries revocations to every replica; with one instance, straight into its own cache.</summary>
internal interface ISessionRevocationBus
{
    /// <summary>Completes once the revocation is published; throws <see cref="StoreUnavailableException"/> otherwise.</summary>
    Task PublishAsync(SessionRevocation revocation, CancellationToken cancellationToken);
}

internal sealed class InProcessRevocationBus(SessionCache cache) : ISessionRevocationBus
{
    public Task PublishAsync(SessionRevocation revocation, CancellationToken cancellationToken)
    {
        cache.Apply(revocation);
        return Task.CompletedTask;
    }
}
