using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Yarp.ReverseProxy.Configuration;

namespace Gateway.Routing;

/// <summary>
/// Reads a proxy.json (YARP's own <c>ReverseProxy: { Routes, Clusters }</c> schema) strictly: an
/// unknown field, a duplicate key or a wrong type is an error naming the file, the route or cluster
/// and the field, where YARP's configuration binder would silently ignore it. Values under
/// <c>ReverseProxy:</c> in the process configuration (e.g. environment variables
/// <c>ReverseProxy__Clusters__cms__Destinations__primary__Address</c>) override the file, so one
/// route file serves every environment.
/// </summary>
internal static class ProxyConfigFileReader
{
    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowDuplicateProperties = false,
    };

    public static async Task<(ProxyConfigSnapshot Snapshot, byte[]? Content)> ReadAsync(
        string path, IConfiguration? overrides, CancellationToken cancellationToken)
    {
        byte[] content;
        try
        {
            content = await File.ReadAllBytesAsync(path, cancellationToken);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return (ProxyConfigSnapshot.Failed($"{path}: the route file does not exist (set Gateway:ProxyConfigPath)."), null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (ProxyConfigSnapshot.Failed($"{path}: cannot be read: {ex.Message}"), null);
        }
        return (Parse(path, content, overrides), content);
    }

    public static ProxyConfigSnapshot Parse(string path, ReadOnlySpan<byte> content, IConfiguration? overrides)
    {
        JsonNode? root;
        try
        {
            if (content.Trim(" \t\r\n"u8).IsEmpty)
                return ProxyConfigSnapshot.Failed($"{path}: the file is empty; it must hold {{ \"ReverseProxy\": {{ \"Routes\": ..., \"Clusters\": ... }} }}.");
            root = JsonNode.Parse(content, documentOptions: DocumentOptions);
        }
        catch (JsonException ex)
        {
            return ProxyConfigSnapshot.Failed($"{path}: invalid JSON at line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}: {FirstSentence(ex.Message)}");
        }

        if (root is not JsonObject rootObject)
            return ProxyConfigSnapshot.Failed($"{path}: the top level must be a JSON object with a \"ReverseProxy\" section.");
        var proxyNode = FindProperty(rootObject, "ReverseProxy");
        if (proxyNode is not JsonObject proxy)
            return ProxyConfigSnapshot.Failed($"{path}: no \"ReverseProxy\" object at the top level.");

        if (overrides is not null)
            ApplyOverrides(proxy, overrides.GetSection("ReverseProxy"));

        var errors = new List<string>();
        foreach (var property in proxy)
        {
            if (!string.Equals(property.Key, "Routes", StringComparison.OrdinalIgnoreCase) &&
                !string.Equals(property.Key, "Clusters", StringComparison.OrdinalIgnoreCase))
                errors.Add($"{path}: ReverseProxy.{property.Key}: unknown section (expected Routes and Clusters).");
        }

        var routes = ReadEntries<RouteConfig>(path, FindProperty(proxy, "Routes"), "route", errors)
            .Select(r => r.Value with { RouteId = r.Key }).ToList();
        var clusters = ReadEntries<ClusterConfig>(path, FindProperty(proxy, "Clusters"), "cluster", errors)
            .Select(c => c.Value with { ClusterId = c.Key }).ToList();
        return new ProxyConfigSnapshot(routes, clusters, errors);
    }

    private static List<KeyValuePair<string, T>> ReadEntries<T>(string path, JsonNode? section, string kind, List<string> errors)
        where T : class
    {
        var result = new List<KeyValuePair<string, T>>();
        if (section is null) return result;
        if (section is not JsonObject entries)
        {
            errors.Add($"{path}: ReverseProxy.{kind[0..1].ToUpperInvariant()}{kind[1..]}s must be an object keyed by {kind} id.");
            return result;
        }
        foreach (var (id, node) in entries)
        {
            try
            {
                var value = node?.Deserialize<T>(SerializerOptions);
                if (value is null) errors.Add($"{path}: {kind} '{id}': is null.");
                else result.Add(new(id, value));
            }
            catch (JsonException ex)
            {
                errors.Add($"{path}: {kind} '{id}', field '{FieldOf(ex.Path)}': {FirstSentence(ex.Message)}");
            }
            catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or FormatException or ArgumentException)
            {
                errors.Add($"{path}: {kind} '{id}': {FirstSentence(ex.Message)}");
            }
        }
        return result;
    }

    private static JsonNode? FindProperty(JsonObject obj, string name) =>
        obj.FirstOrDefault(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    private static void ApplyOverrides(JsonObject target, IConfigurationSection section)
    {
        foreach (var child in section.GetChildren())
        {
            var existing = target.FirstOrDefault(p => string.Equals(p.Key, child.Key, StringComparison.OrdinalIgnoreCase));
            var key = existing.Key ?? child.Key;
            if (child.Value is not null && !child.GetChildren().Any())
            {
                target[key] = JsonValue.Create(child.Value);
                continue;
            }
            if (existing.Value is not JsonObject childObject)
            {
                childObject = new JsonObject();
                target[key] = childObject;
            }
            ApplyOverrides(childObject, child);
        }
    }

    // "$.Match.Pth" -> "Match.Pth"
    private static string FieldOf(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) ? "(entry)" : jsonPath.TrimStart('$', '.');

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }
}
