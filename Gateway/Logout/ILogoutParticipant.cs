namespace Gateway.Logout;

/// <summary>
/// Something besides the gateway session that logout ends, with the request in hand: a session the browser holds a
/// cookie for. <see cref="PurgeAsync"/> runs with the purge, before anything is cleared, and throws
/// <see cref="Sessions.StoreUnavailableException"/> when it cannot confirm (logout then answers 503 and keeps the cookies
/// for the retry); <see cref="Clear"/> expires its cookies on the logout answer.
/// </summary>
internal interface ILogoutParticipant
{
    Task PurgeAsync(HttpRequest request, CancellationToken cancellationToken);

    void Clear(HttpRequest request, HttpResponse response);
}
