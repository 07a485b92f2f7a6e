using Bench;

// Child modes: the bench starts itself as the upstream and as the bare YARP proxy.
return args switch
{
    ["serve-upstream", var port] => await Servers.UpstreamAsync(int.Parse(port)),
    ["serve-bare-proxy", var port, var upstream] => await Servers.BareProxyAsync(int.Parse(port), upstream),
    _ => await Driver.RunAsync(args),
};
