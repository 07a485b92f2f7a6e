using System.Security.Claims;

namespace Gateway.Sessions;

/// <summary>
/// A cached session's identity, with its claims built from the record on first use. A signed-in proxied request only
/// asks whether the identity is authenticated and in a role, which this answers from the record; the claim objects
/// (about two thirds of a principal's memory) are built only for the few that read claims, once per cached session.
/// One instance serves every request of the session, so its claims cannot be changed.
/// Known difference from a plain <see cref="ClaimsIdentity"/>: the base class's copy constructors and <c>WriteTo</c>
/// read its private claim list, which stays empty here, so a copy made with <c>new ClaimsIdentity(identity)</c> has no
/// claims (it fails closed: no roles, no name); <see cref="Clone"/> copies them. The gateway's own endpoints get an
/// ordinary identity instead (<see cref="CachedSession.FrameworkPrincipal"/>).
/// </summary>
internal sealed class SessionIdentity(CachedRecord record)
    : ClaimsIdentity(GatewayClaims.AuthenticationType, GatewayClaims.Name, GatewayClaims.Role)
{
    private List<Claim>? _claims;

    public override IEnumerable<Claim> Claims => _claims ?? Build();

    /// <summary>As <see cref="ClaimsIdentity.HasClaim(string, string)"/> (type ignoring case, value exact), roles from the record.</summary>
    public override bool HasClaim(string type, string value)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(value);
        if (!string.Equals(type, GatewayClaims.Role, StringComparison.OrdinalIgnoreCase)) return base.HasClaim(type, value);
        foreach (var role in record.Roles)
            if (string.Equals(role, value, StringComparison.Ordinal)) return true;
        return false;
    }

    public override ClaimsIdentity Clone() => new(Claims, AuthenticationType, NameClaimType, RoleClaimType);

    public override void AddClaim(Claim claim) => throw Shared();

    public override void AddClaims(IEnumerable<Claim?> claims) => throw Shared();

    public override bool TryRemoveClaim(Claim? claim) => throw Shared();

    public override void RemoveClaim(Claim? claim) => throw Shared();

    private List<Claim> Build()
    {
        var claims = GatewayClaims.ClaimsOf(record, this);
        // Two requests may build at once; both see the list published first.
        return Interlocked.CompareExchange(ref _claims, claims, null) ?? claims;
    }

    private static NotSupportedException Shared() =>
        new("A session's identity is shared by all its requests and cannot be changed; clone it first.");
}
