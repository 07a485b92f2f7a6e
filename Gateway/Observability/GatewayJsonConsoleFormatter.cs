using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Gateway.Observability;

/// <summary>
/// One JSON object per line with the event's name next to its id, so ops can alert on
/// <c>"event":"LogoutStoreUnavailable"</c> rather than a number. State values are written as fields;
/// by construction none of the gateway's messages carries a cookie, session id or token.
/// </summary>
internal sealed class GatewayJsonConsoleFormatter() : ConsoleFormatter(Name)
{
    public new const string Name = "gateway-json";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("level", logEntry.LogLevel.ToString());
            json.WriteString("category", logEntry.Category);
            json.WriteNumber("eventId", logEntry.EventId.Id);
            if (!string.IsNullOrEmpty(logEntry.EventId.Name)) json.WriteString("event", logEntry.EventId.Name);
            json.WriteString("message", message);
            if (logEntry.State is IReadOnlyList<KeyValuePair<string, object?>> state)
            {
                foreach (var (key, value) in state)
                {
                    if (key == "{OriginalFormat}") continue;
                    json.WriteString(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            if (logEntry.Exception is not null) json.WriteString("exception", logEntry.Exception.ToString());
            json.WriteEndObject();
        }
        textWriter.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
