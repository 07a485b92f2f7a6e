namespace Gateway.LegacySignIn;

/// <summary>
/// The CMS's session store (its Redis), by raw key. Every call throws <see cref="Sessions.StoreUnavailableException"/>
/// when the store cannot be reached: a signed-in request then answers 503, never goes upstream as a guest.
/// </summary>
internal interface ICmsSessionStore
{
    Task WriteAsync(string key, string record, TimeSpan timeToLive, CancellationToken cancellationToken);

    Task<string?> ReadAsync(string key, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken);
}
