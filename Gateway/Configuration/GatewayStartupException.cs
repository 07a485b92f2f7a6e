namespace Gateway.Configuration;

/// <summary>Start-up cannot go on; the message lists every problem and is printed as is.</summary>
public sealed class GatewayStartupException(string message) : Exception(message);
