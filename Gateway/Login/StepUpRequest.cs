using System.Globalization;
using Microsoft.AspNetCore.Authentication;

namespace Gateway.Login;

/// <summary>
/// What a step-up asked the login for (<c>max_age</c>, <c>acr_values</c> on <c>/login</c>), carried through the OpenID
/// Connect round trip in the protected state, so the callback can check the provider honoured it. The query is the
/// client's to change: it only shapes the request to the provider; the route checks the session it gets on its own.
/// </summary>
internal sealed record StepUpRequest(long? MaxAgeSeconds, string? AcrValues)
{
    private const string MaxAgeItem = "gw.max_age";
    private const string AcrItem = "gw.acr_values";
    private const int MaxAcrLength = 512;

    public static StepUpRequest? From(IQueryCollection query)
    {
        long? maxAge = long.TryParse(query[StepUpChallenge.MaxAgeParameter], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? seconds : null;
        var acr = query[StepUpChallenge.AcrValuesParameter].ToString();
        acr = acr.Length is > 0 and <= MaxAcrLength && acr.All(c => c > ' ' && c < 127 || c == ' ') ? acr.Trim() : null;
        return maxAge is null && string.IsNullOrEmpty(acr) ? null : new StepUpRequest(maxAge, string.IsNullOrEmpty(acr) ? null : acr);
    }

    public static StepUpRequest? From(AuthenticationProperties properties)
    {
        long? maxAge = properties.Items.TryGetValue(MaxAgeItem, out var age) && long.TryParse(age, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? seconds : null;
        properties.Items.TryGetValue(AcrItem, out var acr);
        return maxAge is null && acr is null ? null : new StepUpRequest(maxAge, acr);
    }

    public void WriteTo(AuthenticationProperties properties)
    {
        if (MaxAgeSeconds is { } seconds) properties.Items[MaxAgeItem] = seconds.ToString(CultureInfo.InvariantCulture);
        if (AcrValues is not null) properties.Items[AcrItem] = AcrValues;
    }

    /// <summary>Why the id_token does not answer this request, or null: the provider may ignore what it was asked.</summary>
    public string? ProblemWith(DateTimeOffset? authenticatedAt, string? acr, DateTimeOffset now)
    {
        if (MaxAgeSeconds is { } seconds)
        {
            if (authenticatedAt is not { } at) return "the id_token has no auth_time";
            // auth_time has whole seconds: a sign-in in the same second as max_age allows is recent enough.
            if (now - at > Routing.RecentSignInRequirement.AllowedAge(TimeSpan.FromSeconds(seconds)) + TimeSpan.FromSeconds(1)) return "the provider's auth_time is older than max_age";
        }
        if (AcrValues is not null && (acr is null || !AcrValues.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(acr, StringComparer.Ordinal)))
            return "the id_token's acr is not one of those asked for";
        return null;
    }
}
