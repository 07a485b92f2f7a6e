using Gateway.Hosting;

if (GatewayCommands.IsCommand(args))
    return await GatewayCommands.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.AddGateway();
await using var app = builder.Build();
return await app.RunGatewayAsync();

/// <summary>Entry point of the gateway process (the tests start it as a child process, or host it through GatewayHost).</summary>
public partial class Program;
