using System.Collections;
using System.Globalization;
using System.Text;

namespace Jobs.Dataflow;

/// <summary>
/// A group's labels as a logging scope: a list of key/value pairs, which structured providers
/// read field by field, with a readable <see cref="ToString"/> for plain-text ones.
/// </summary>
internal sealed class LabelsScope : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly KeyValuePair<string, object?>[] _labels;
    private readonly string _text;

    public LabelsScope(IReadOnlyDictionary<string, object?> labels)
    {
        _labels = [.. labels];
        var text = new StringBuilder();
        foreach (KeyValuePair<string, object?> label in _labels)
        {
            if (text.Length > 0)
            {
                text.Append(", ");
            }

            text.Append(label.Key).Append('=').Append(Convert.ToString(label.Value, CultureInfo.InvariantCulture));
        }

        _text = text.ToString();
    }

    public int Count => _labels.Length;

    public IReadOnlyList<KeyValuePair<string, object?>> Labels => _labels;

    public KeyValuePair<string, object?> this[int index] => _labels[index];

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_labels).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => _text;
}
