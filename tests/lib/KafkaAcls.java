// KafkaAcls.java: the ACLs of each ACMS service principal (User:<prefix><service>) on a broker with
// an authorizer, through Kafka's Admin client (the broker's own jars), as the PLAINTEXT listener's
// super user: READ on its input topics and its consumer group, WRITE on its output topics and the
// dead-letter topic; acmsctl's principal WRITE on acms.config.submitted and acms.control.
// --deny-write SERVICE:TOPIC leaves one WRITE out (a principal that must fail on that topic).
// Run from source (Java 11+): java -cp '<kafka lib>/*' tests/lib/KafkaAcls.java BROKERS PREFIX [...]
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAcls {
    static AclBinding allow(String principal, ResourceType type, String name, AclOperation op) {
        return new AclBinding(new ResourcePattern(type, name, PatternType.LITERAL),
                new AccessControlEntry(principal, "*", op, AclPermissionType.ALLOW));
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: KafkaAcls BROKERS PREFIX [--deny-write SERVICE:TOPIC]...");
            System.exit(2);
        }
        Set<String> deny = new HashSet<>();
        for (int i = 2; i + 1 < args.length; i += 2)
            if (args[i].equals("--deny-write")) deny.add(args[i + 1]);
        Map<String, String[][]> services = new LinkedHashMap<>(); // inputs, outputs (DESIGN.md)
        services.put("adapter", new String[][] {{"acms.config.submitted", "acms.exec.adaptations"},
                {"acms.config.prepared", "acms.validation.results", "acms.exec.adapted"}});
        services.put("validator", new String[][] {{"acms.config.prepared", "acms.exec.steps"},
                {"acms.config.validated", "acms.validation.results"}});
        services.put("coordinator", new String[][] {{"acms.config.validated", "acms.exec.adapted", "acms.control"},
                {"acms.exec.steps", "acms.exec.results"}});
        services.put("monitor", new String[][] {{"acms.exec.steps"}, {"acms.monitor.alerts", "acms.exec.adaptations"}});
        services.put("feedback", new String[][] {{"acms.exec.results", "acms.validation.results", "acms.monitor.alerts"},
                {"acms.feedback.insights"}});
        services.put("acmsctl", new String[][] {{}, {"acms.config.submitted", "acms.control"}});
        List<AclBinding> acls = new ArrayList<>();
        for (Map.Entry<String, String[][]> e : services.entrySet()) {
            String svc = e.getKey(), principal = "User:" + args[1] + svc;
            for (String t : e.getValue()[0]) acls.add(allow(principal, ResourceType.TOPIC, t, AclOperation.READ));
            if (e.getValue()[0].length > 0)
                acls.add(allow(principal, ResourceType.GROUP, "acms-" + svc, AclOperation.READ));
            List<String> outs = new ArrayList<>(List.of(e.getValue()[1]));
            outs.add("acms.deadletter");
            for (String t : outs)
                if (!deny.contains(svc + ":" + t)) acls.add(allow(principal, ResourceType.TOPIC, t, AclOperation.WRITE));
        }
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        try (Admin admin = Admin.create(p)) {
            admin.createAcls(acls).all().get();
        }
        System.out.println(acls.size() + " ACLs for " + services.size() + " principals" + (deny.isEmpty() ? "" : " (without WRITE: " + deny + ")"));
    }
}
