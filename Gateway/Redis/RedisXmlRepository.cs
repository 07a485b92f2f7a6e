using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// DataProtection keys in Redis with Microsoft's layout (one list, one key XML per element, list
/// name <c>DataProtection-Keys</c> by default), so a deployment can switch to
/// Microsoft.AspNetCore.DataProtection.StackExchangeRedis with the same data. IXmlRepository is a
/// synchronous interface; DataProtection calls it at start-up and on key-ring refresh, not per request.
/// </summary>
internal sealed class RedisXmlRepository(RedisConnection connection, string listKey) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        var db = connection.GetAsync().GetAwaiter().GetResult().GetDatabase();
        return db.ListRange(listKey).Select(v => XElement.Parse((string)v!)).ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        var db = connection.GetAsync().GetAwaiter().GetResult().GetDatabase();
        db.ListRightPush(listKey, element.ToString(SaveOptions.DisableFormatting));
    }
}
