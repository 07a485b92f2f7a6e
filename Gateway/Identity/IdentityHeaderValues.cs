using Gateway.Sessions;

namespace Gateway.Identity;

/// <summary>The encoded identity header values of one session, held by its cached entry (<see cref="CachedSession.HeaderValues"/>).</summary>
internal sealed record IdentityHeaderValues(string User, string? Email, string? Name, string Roles)
{
    public static IdentityHeaderValues Of(CachedRecord record) => new(
        HeaderValueEncoder.Encode(record.UserId),
        record.Email is null ? null : HeaderValueEncoder.Encode(record.Email),
        record.Name is null ? null : HeaderValueEncoder.Encode(record.Name),
        HeaderValueEncoder.Encode(string.Join(',', record.Roles.Select(r => r.Replace(",", "", StringComparison.Ordinal)))));
}
