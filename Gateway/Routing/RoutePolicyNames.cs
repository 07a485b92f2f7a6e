namespace Gateway.Routing;

/// <summary>The policy names YARP understands by itself in a route's <c>AuthorizationPolicy</c>.</summary>
internal static class RoutePolicyNames
{
    public const string Anonymous = "anonymous";
    public const string Default = "default";

    public static bool IsReserved(string name) =>
        string.Equals(name, Anonymous, StringComparison.OrdinalIgnoreCase) || string.Equals(name, Default, StringComparison.OrdinalIgnoreCase);
}
