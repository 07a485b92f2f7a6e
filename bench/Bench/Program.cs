namespace Bench;

internal static class Entry
{
    // Child mode: the bench starts itself as the bare YARP proxy.
    public static async Task<int> Main(string[] args) => args switch
    {
        ["serve-bare-proxy", var port, var upstream] => await Servers.BareProxyAsync(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), upstream),
        ["serve-bare-proxy", var port, var upstream, var edits] => await Servers.BareProxyAsync(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), upstream, edits),
        _ when args.Contains("--cold-start") => await ColdStart.RunAsync(args),
        _ when args.Contains("--scale") => await Scale.RunAsync(args),
        _ when args.Contains("--login-cost") => await RedisModes.LoginCostAsync(args),
        _ when args.Contains("--cluster-scale") => await RedisModes.ClusterScaleAsync(args),
        _ when args.Contains("--cache-memory") => await CacheMemory.ReportAsync(),
        _ when args.Contains("--miss-path") => await MissPath.ReportAsync(),
        _ when args.Contains("--assertion-signing") => await AssertionSigning.ReportAsync(),
        _ => await Driver.RunAsync(args),
    };
}
