using System.Text.Json.Serialization;

namespace Gateway.Sessions;

[JsonSerializable(typeof(SessionRecord))]
internal sealed partial class SessionJson : JsonSerializerContext;
