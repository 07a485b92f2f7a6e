using System.Net;
using System.Net.Sockets;

namespace Gateway.Sessions;

/// <summary>What "your sessions" shows of where a session came from: a coarse browser and system name, and a truncated address.</summary>
internal static class DeviceDescription
{
    // Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
    private static readonly (string Token, string Name)[] Browsers =
        [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl")];

    private static readonly (string Token, string Name)[] Systems =
        [("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux")];

    public static string Of(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent)) return "Unknown browser";
        var browser = Browsers.FirstOrDefault(b => userAgent.Contains(b.Token, StringComparison.Ordinal)).Name ?? "Other browser";
        var system = Systems.FirstOrDefault(s => userAgent.Contains(s.Token, StringComparison.Ordinal)).Name;
        if (userAgent.Contains("HeadlessChrome", StringComparison.Ordinal)) browser = "Headless Chrome";
        return system is null ? browser : $"{browser} on {system}";
    }

    /// <summary>IPv4 to its /24 (<c>203.0.113.0/24</c>), IPv6 to its /48: enough to recognise a place, not to pinpoint a person.</summary>
    public static string? Network(IPAddress? address)
    {
        if (address is null) return null;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        var (keep, bits) = address.AddressFamily == AddressFamily.InterNetwork ? (3, 24) : (6, 48);
        for (var i = keep; i < bytes.Length; i++) bytes[i] = 0;
        return $"{new IPAddress(bytes)}/{bits}";
    }
}
