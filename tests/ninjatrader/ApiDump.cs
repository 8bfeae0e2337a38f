// Lists the public NinjaTrader types of an assembly (the compiled stubs) one declaration a line, for
// tests/unit/bridge/test_ninjatrader_stubs.py to hold against tests/ninjatrader/api-listing.txt.
//
//   mono ApiDump.exe Stubs.dll
//
// Lines are tab-separated: "type kind name base stub", "property|method|event|field owner type
// name(parameters) stub", "value owner name number". Type names are written without namespaces
// and with C# keywords (int, double, …); "stub" is 1 for what carries [StubOnly].

using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace FillstreamApiDump
{
    internal static class Program
    {
        private const BindingFlags Declared =
            BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

        private static readonly Dictionary<string, string> Keywords = new Dictionary<string, string>
        {
            { "System.Void", "void" }, { "System.Boolean", "bool" }, { "System.Int16", "short" },
            { "System.Int32", "int" }, { "System.Int64", "long" }, { "System.UInt32", "uint" },
            { "System.UInt64", "ulong" }, { "System.Double", "double" }, { "System.Single", "float" },
            { "System.Decimal", "decimal" }, { "System.String", "string" }, { "System.Object", "object" },
            { "System.Char", "char" }, { "System.Byte", "byte" },
        };

        public static int Main(string[] args)
        {
            if (args.Length != 1)
            {
                Console.Error.WriteLine("usage: ApiDump.exe ASSEMBLY");
                return 64;
            }
            Assembly assembly = Assembly.LoadFrom(args[0]);
            foreach (Type type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
            {
                if (type.Namespace == null || !type.Namespace.StartsWith("NinjaTrader", StringComparison.Ordinal))
                    continue;
                string owner = TypeName(type);
                string kind = type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct" : "class";
                string baseName = type.BaseType == null || type.IsEnum ? "-" : Name(type.BaseType);
                Console.Out.WriteLine(string.Join("\t", "type", kind, owner, baseName, Stub(type)));
                if (type.IsEnum)
                {
                    foreach (FieldInfo field in type.GetFields(BindingFlags.Public | BindingFlags.Static))
                        Console.Out.WriteLine(string.Join("\t", "value", owner, field.Name,
                            Convert.ToInt64(field.GetRawConstantValue()).ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    continue;
                }
                foreach (PropertyInfo property in type.GetProperties(Declared))
                    Console.Out.WriteLine(string.Join("\t", "property", owner, Name(property.PropertyType), property.Name, Stub(property)));
                foreach (EventInfo e in type.GetEvents(Declared))
                    Console.Out.WriteLine(string.Join("\t", "event", owner, Name(e.EventHandlerType), e.Name, Stub(e)));
                foreach (FieldInfo field in type.GetFields(Declared))
                    Console.Out.WriteLine(string.Join("\t", "field", owner, Name(field.FieldType), field.Name, Stub(field)));
                foreach (MethodInfo method in type.GetMethods(Declared))
                {
                    if (method.IsSpecialName)
                        continue; // property and event accessors, operators
                    string parameters = string.Join(", ", method.GetParameters().Select(p => Name(p.ParameterType)));
                    Console.Out.WriteLine(string.Join("\t", "method", owner, Name(method.ReturnType),
                        method.Name + "(" + parameters + ")", Stub(method)));
                }
            }
            return 0;
        }

        private static string Stub(MemberInfo member)
        {
            return member.GetCustomAttributes(false).Any(a => a.GetType().Name == "StubOnlyAttribute") ? "1" : "0";
        }

        /// <summary>Namespace and full name of a declared type, generic parameters by name (ISeries&lt;T&gt;).</summary>
        private static string TypeName(Type type)
        {
            string name = type.IsNested ? TypeName(type.DeclaringType) + "." + Plain(type.Name) : type.Namespace + "." + Plain(type.Name);
            if (type.IsGenericTypeDefinition)
                name += "<" + string.Join(", ", type.GetGenericArguments().Select(a => a.Name)) + ">";
            return name;
        }

        private static string Plain(string name)
        {
            int tick = name.IndexOf('`');
            return tick < 0 ? name : name.Substring(0, tick);
        }

        private static string Name(Type type)
        {
            if (type.IsByRef)
                return Name(type.GetElementType()) + "&";
            if (type.IsArray)
                return Name(type.GetElementType()) + "[]";
            if (type.IsGenericParameter)
                return type.Name;
            if (type.IsGenericType)
            {
                Type[] arguments = type.GetGenericArguments();
                if (type.GetGenericTypeDefinition() == typeof(Nullable<>))
                    return Name(arguments[0]) + "?";
                return Plain(type.Name) + "<" + string.Join(", ", arguments.Select(Name)) + ">";
            }
            string keyword;
            if (type.FullName != null && Keywords.TryGetValue(type.FullName, out keyword))
                return keyword;
            return type.Name;
        }
    }
}
