namespace Gateway.Routing;

/// <summary><c>Gateway:Policies:&lt;name&gt;</c>: a signed-in user holding any one of <see cref="Roles"/>.</summary>
public sealed class RoutePolicyOptions
{
    public string[] Roles { get; set; } = [];
}
