using Bench;

// Child mode: the bench starts itself as the bare YARP proxy.
return args switch
{
    ["serve-bare-proxy", var port, var upstream] => await Servers.BareProxyAsync(int.Parse(port), upstream),
    _ when args.Contains("--cold-start") => await ColdStart.RunAsync(args),
    _ => await Driver.RunAsync(args),
};
