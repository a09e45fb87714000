import BPFModel

extension JSONText {
    /// A handler's scalar fields as members, in their table's order, under bpftime's names
    /// unless `name` says otherwise; integers signed or not as their field's type.
    public static func members(_ fields: [HandlerField], _ values: [FieldValue],
                               name: (HandlerField) -> String = \.name) -> [(String, JSONText)] {
        zip(fields, values).map { field, value in
            switch value {
            case .string(let s): (name(field), .string(s))
            case .integer(let bits): (name(field), field.isSigned ? .int(bits) : .uint(UInt64(bitPattern: bits)))
            }
        }
    }
}
