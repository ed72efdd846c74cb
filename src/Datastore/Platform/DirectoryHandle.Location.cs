using System.Text;

namespace BackupFs.Datastore.Platform;

public sealed partial class DirectoryHandle
{
    /// <summary>
    /// Where a handle is, for messages: its name and its parent's location, built lazily into a path.
    /// A deep walk (100,000 levels) would spend quadratic time and memory on full path strings, so
    /// each level adds one small node and <see cref="Describe"/> shows the root and the last levels.
    /// </summary>
    private sealed class Location
    {
        private const int ShownLevels = 64;
        private readonly Location? _parent;
        private readonly Location _root;
        private readonly string _name;

        private Location(Location? parent, string name)
        {
            _parent = parent;
            _root = parent?._root ?? this;
            _name = name;
        }

        public static Location Root(string path) => new(null, path);

        public Location Child(ReadOnlySpan<byte> name) => new(this, Encoding.UTF8.GetString(name));

        /// <summary>The parent's location (".." from here), or "here/.." above a root.</summary>
        public Location Up() => _parent ?? new Location(this, "..");

        public string Describe()
        {
            var names = new List<string>();
            var at = this;
            for (; at._parent is not null && names.Count < ShownLevels; at = at._parent) names.Add(at._name);
            var sb = new StringBuilder(_root._name.TrimEnd('/'));
            if (at._parent is not null) sb.Append("/…");
            for (int i = names.Count - 1; i >= 0; i--) sb.Append('/').Append(names[i]);
            return names.Count == 0 && sb.Length == 0 ? "/" : sb.ToString();
        }
    }
}
