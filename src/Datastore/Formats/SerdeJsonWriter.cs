using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BackupFs.Datastore.Formats;

/// <summary>
/// Writes a JSON tree the way PBS's serde_json does for a manifest: object keys sorted by their
/// UTF-8 bytes at every level, strings escaped only where JSON requires it (quote, backslash,
/// control characters; short forms \b \f \n \r \t, otherwise \u00xx in lower case; non-ASCII and
/// '/' raw), integers verbatim, other numbers in serde_json's (ryu) shortest form.
/// "Pretty" is serde_json's pretty printer (2-space indent, "key": value, empty {} and []);
/// "canonical" is the compact form PBS signs, where null is an error.
/// </summary>
internal static class SerdeJsonWriter
{
    public static byte[] Pretty(JsonNode? node) => Write(node, pretty: true, canonical: false);

    /// <exception cref="FormatCorruptException">the tree contains null</exception>
    public static byte[] Canonical(JsonNode? node) => Write(node, pretty: false, canonical: true);

    private static byte[] Write(JsonNode? node, bool pretty, bool canonical)
    {
        var text = new StringBuilder();
        WriteValue(text, node, pretty, canonical, 0);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static void WriteValue(StringBuilder text, JsonNode? node, bool pretty, bool canonical, int depth)
    {
        switch (node)
        {
            case null:
                if (canonical) throw new FormatCorruptException("canonical JSON cannot contain null");
                text.Append("null");
                break;
            case JsonObject obj:
                var keys = obj.Select(p => p.Key).ToList();
                keys.Sort(Utf8Order.Instance);
                WriteContainer(text, '{', '}', keys.Count, pretty, depth, (i, d) =>
                {
                    WriteString(text, keys[i]);
                    text.Append(pretty ? ": " : ":");
                    WriteValue(text, obj[keys[i]], pretty, canonical, d);
                });
                break;
            case JsonArray array:
                WriteContainer(text, '[', ']', array.Count, pretty, depth,
                    (i, d) => WriteValue(text, array[i], pretty, canonical, d));
                break;
            case JsonValue value:
                WriteScalar(text, value);
                break;
            default:
                throw new FormatCorruptException($"unexpected JSON node {node.GetType().Name}");
        }
    }

    private static void WriteContainer(StringBuilder text, char open, char close, int count, bool pretty, int depth, Action<int, int> writeItem)
    {
        text.Append(open);
        for (int i = 0; i < count; i++)
        {
            if (i > 0) text.Append(',');
            if (pretty) text.Append('\n').Append(' ', 2 * (depth + 1));
            writeItem(i, depth + 1);
        }
        if (pretty && count > 0) text.Append('\n').Append(' ', 2 * depth);
        text.Append(close);
    }

    private static void WriteScalar(StringBuilder text, JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String: WriteString(text, value.GetValue<string>()); break;
            case JsonValueKind.True: text.Append("true"); break;
            case JsonValueKind.False: text.Append("false"); break;
            case JsonValueKind.Number: text.Append(FormatNumber(value.ToJsonString())); break;
            case JsonValueKind.Null: text.Append("null"); break;
            default: throw new FormatCorruptException($"unexpected JSON value kind {value.GetValueKind()}");
        }
    }

    private static void WriteString(StringBuilder text, string s)
    {
        text.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                default:
                    if (c < 0x20) text.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else text.Append(c);
                    break;
            }
        }
        text.Append('"');
    }

    /// <summary>
    /// serde_json keeps integers that fit u64/i64 as integers and turns everything else into f64.
    /// </summary>
    private static string FormatNumber(string token)
    {
        if (token.AsSpan().IndexOfAny(".eE") < 0)
        {
            if (ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u)) return u.ToString(CultureInfo.InvariantCulture);
            if (long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l.ToString(CultureInfo.InvariantCulture);
        }
        if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
            throw new FormatCorruptException($"unreadable JSON number '{token}'");
        return FormatDouble(d);
    }

    /// <summary>Shortest round-trip digits laid out the way the ryu crate's pretty printer does.</summary>
    private static string FormatDouble(double value)
    {
        if (!double.IsFinite(value)) return "null"; // serde_json writes non-finite floats as null
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";
        string sign = value < 0 ? "-" : "";
        string r = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        int exponent = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string digits = dot >= 0 ? r.Remove(dot, 1) : r;
        int point = (dot >= 0 ? dot : r.Length) + exponent; // decimal point position after the first digit of 'digits'
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') lead++;
        digits = digits[lead..].TrimEnd('0');
        point -= lead;
        int length = digits.Length;
        int k = point - length; // power of ten of the last digit
        if (k >= 0 && point <= 16) return sign + digits + new string('0', k) + ".0";
        if (point > 0 && point <= 16) return sign + digits[..point] + "." + digits[point..];
        if (point > -5 && point <= 0) return sign + "0." + new string('0', -point) + digits;
        string mantissa = length == 1 ? digits : digits[0] + "." + digits[1..];
        return sign + mantissa + "e" + (point - 1).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Orders strings by code point, which equals byte-wise UTF-8 order (Rust's String order).</summary>
    private sealed class Utf8Order : IComparer<string>
    {
        public static readonly Utf8Order Instance = new();

        public int Compare(string? x, string? y)
        {
            if (x is null || y is null) return x is null ? (y is null ? 0 : -1) : 1;
            var a = x.EnumerateRunes();
            var b = y.EnumerateRunes();
            while (true)
            {
                bool hasA = a.MoveNext(), hasB = b.MoveNext();
                if (!hasA || !hasB) return hasA ? 1 : hasB ? -1 : 0;
                int c = a.Current.Value.CompareTo(b.Current.Value);
                if (c != 0) return c;
            }
        }
    }
}
