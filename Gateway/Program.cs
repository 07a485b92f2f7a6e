using Gateway.Hosting;

if (GatewayCommands.IsCommand(args))
    return await GatewayCommands.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.AddGateway();
await using var app = builder.Build();
return await app.RunGatewayAsync();

/// <summary>Entry point; public so the tests' WebApplicationFactory can find it.</summary>
public partial class Program;
