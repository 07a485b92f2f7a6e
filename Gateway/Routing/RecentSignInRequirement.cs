using System.Globalization;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authorization;

namespace Gateway.Routing;

/// <summary>
/// A policy's step-up part (<see cref="RoutePolicyOptions.MaxAuthenticationAge"/>, <see cref="RoutePolicyOptions.AcrValues"/>):
/// the session's last interactive sign-in is recent enough and of a listed class. Not met is answered by asking for a
/// sign-in (Login/StepUpChallenge), never by ending the session.
/// </summary>
internal sealed class RecentSignInRequirement(TimeSpan? maxAge, string[] acrValues) : IAuthorizationRequirement
{
    public TimeSpan? MaxAge { get; } = maxAge;

    public string[] AcrValues { get; } = acrValues;

    /// <summary>Whole seconds, as <c>max_age</c> is sent (rounded down: never asks for less recent than configured).</summary>
    public long? MaxAgeSeconds => MaxAge is { } age ? (long)age.TotalSeconds : null;

    /// <summary>
    /// How long a sign-in counts for a route whose age is 0 ("sign in for this visit", prompt=login): the way back from
    /// the login to the page and what the page loads. Without it no sign-in could ever be recent enough, since time
    /// passes between the sign-in and the request it was made for, and the route would send the user round forever.
    /// </summary>
    public static readonly TimeSpan FreshSignInWindow = TimeSpan.FromSeconds(10);

    /// <summary>The age a sign-in may have: the configured one, or <see cref="FreshSignInWindow"/> for 0.</summary>
    public static TimeSpan AllowedAge(TimeSpan configured) => configured == TimeSpan.Zero ? FreshSignInWindow : configured;

    /// <summary>Exact: no clock-skew allowance (that is for token validity). An unknown sign-in time is too old.</summary>
    public bool IsMetBy(CachedRecord? record, DateTimeOffset now)
    {
        if (record is null) return false;
        if (MaxAge is { } age && (record.AuthenticatedAt is not { } at || now - at > AllowedAge(age))) return false;
        if (AcrValues.Length > 0 && (record.Acr is not { } acr || Array.IndexOf(AcrValues, acr) < 0)) return false;
        return true;
    }

    /// <summary>What the sign-in is asked for, as the login path's query (<c>max_age</c>, <c>acr_values</c>).</summary>
    public string LoginQuery()
    {
        var query = "";
        if (MaxAgeSeconds is { } seconds) query += "&max_age=" + seconds.ToString(CultureInfo.InvariantCulture);
        if (AcrValues.Length > 0) query += "&acr_values=" + Uri.EscapeDataString(string.Join(' ', AcrValues));
        return query;
    }
}

/// <summary>The framework's path for the same requirement (a route <see cref="Hosting.RouteAuthorization"/> leaves to it): not met is forbidden.</summary>
internal sealed class RecentSignInHandler(TimeProvider time) : AuthorizationHandler<RecentSignInRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RecentSignInRequirement requirement)
    {
        var http = context.Resource as HttpContext;
        if (requirement.IsMetBy(http?.Features.Get<SessionFeature>()?.Session.Record, time.GetUtcNow())) context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
